"""Per-frame guessability: how much of a target's hidden part one frame could give away, and how far in
time a method has to look to see it (numpy only; ``savos-gen verify`` and the dataset card report it).

For every target object-frame (t, k) with a non-empty amodal mask, with H = its hidden pixels (amodal
pixels where ``visible`` shows another object):

- ``occlusion``: the occlusion rate ``1 - |V| / |A|`` (``Clip.occlusion_rate``).
- ``in_hull``: how many pixels of H lie inside the convex hull of the visible part (``savos.data.hull``).
- ``reach`` of a hidden pixel p: the distance in frames |s - t| to the nearest frame s where that point
  of the object is visible. Definition (pixel-exact, any dataset with motion):
  1. the point is p's centre, followed through the object's own motion to frame s
     (``object_motion``: the motion meta records, ``maps`` and ``warps`` of scene clips, exact for any
     motion, non-rigid included; else ``object_maps``: affine maps fitted to the per-frame
     ``meta.objects[k].vertices`` — exact for rigid or affine motion, Chewing Gum's — else fitted per
     frame to ``amodal_flow_fwd`` (exact for affine motion up to the 1/64 px storage rounding, the best
     affine fit otherwise));
  2. it is visible at s iff it lies in the frame (-0.5 <= x < W - 0.5, -0.5 <= y < H - 0.5) and the
     pixel whose centre is nearest to it (``floor(x + 0.5)``) shows object k or nothing (label k + 1 or
     0) in ``visible[s]``; a label of another object means that object covers it.
  Label 0 only occurs when the point lies within half a pixel outside the centre-sampled mask at s (its
  edge): nothing covers it there, so it counts as visible. Rounding to the nearest centre makes the
  answer exact for integer motions and off by at most half a pixel at occluder edges otherwise.
  ``reach`` is ``UNSEEN`` if the point is visible in no frame of the clip, and the whole statistic is
  absent (None) for a clip without vertices or amodal flow.
- ``within[:, i]``: hidden pixels with reach <= REACHES[i] (visible at some s with 1 <= |s - t| <= d),
  ``seen``: hidden pixels with a finite reach (visible in some frame).

Dataset statistics (``summarize``) pool pixels over object-frames: "the share of hidden pixels inside
the hull" is sum(in_hull) / sum(hidden), and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from savos.data.clip import Clip
from savos.data.hull import convex_hull_mask
from savos.data.sine_warp import follow

REACHES = (1, 2, 4)  # the t +- d windows reported
UNSEEN = np.iinfo(np.int16).max  # reach of a point visible in no frame
NOT_HIDDEN = -1  # reach map value outside the target's hidden pixels
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass
class Guessability:
    """One clip's statistics: N rows, one per target object-frame with a non-empty amodal mask.

    reach: int16 (T, K, H, W) per pixel: the reach (>= 1, or UNSEEN) at target hidden pixels,
    NOT_HIDDEN (-1) everywhere else; None (as are ``within``, ``seen``) without motion information.
    """

    object: np.ndarray  # int64 (N,) 0-based object k
    frame: np.ndarray  # int64 (N,)
    occlusion: np.ndarray  # float64 (N,) occlusion rate
    in_band: np.ndarray  # bool (N,) 0.1 < occlusion < 0.7 exactly (3 |A| < 10 |V| < 9 |A|)
    hidden: np.ndarray  # int64 (N,) hidden pixels
    in_hull: np.ndarray  # int64 (N,) hidden pixels inside the convex hull of the visible part
    within: np.ndarray | None  # int64 (N, len(REACHES)) hidden pixels with reach <= d
    seen: np.ndarray | None  # int64 (N,) hidden pixels with a finite reach
    reach_median: np.ndarray | None  # float64 (N,) median reach of the hidden pixels (inf if most UNSEEN)
    reach: np.ndarray | None  # int16 (T, K, H, W)


def _fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares affine maps: src (P, 2), dst (..., P, 2) -> (..., 2, 3); NaN if degenerate."""
    ms, md = src.mean(axis=0), dst.mean(axis=-2, keepdims=True)
    s, d = src - ms, dst - md
    gram = s.T @ s  # (2, 2)
    if len(src) < 3 or abs(np.linalg.det(gram)) < 1e-9:
        return np.full((*dst.shape[:-2], 2, 3), np.nan)
    lin = np.swapaxes(np.linalg.solve(gram, s.T @ d), -1, -2)  # (..., 2, 2)
    shift = md[..., 0, :] - lin @ ms  # (..., 2)
    return np.concatenate([lin, shift[..., None]], axis=-1)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    lin = outer[..., :2] @ inner[..., :2]
    return np.concatenate([lin, outer[..., :2] @ inner[..., 2:] + outer[..., 2:]], axis=-1)


def _invert(maps: np.ndarray) -> np.ndarray:
    lin = np.linalg.inv(maps[..., :2])
    return np.concatenate([lin, -(lin @ maps[..., 2:])], axis=-1)


def object_maps(clip: Clip, k: int) -> np.ndarray | None:
    """float64 (T, 2, 3): affine maps taking object k's points at frame 0 to frame t (module docstring),
    NaN where the motion is unknown; None if the clip has neither vertices nor amodal flow."""
    T = clip.num_frames
    objects = clip.meta.get("objects") or []
    vertices = objects[k].get("vertices") if k < len(objects) else None
    if vertices:
        v = np.asarray(vertices, np.float64)
        if v.ndim == 3 and v.shape[0] == T and v.shape[2] == 2:
            maps = _fit_affine(v[0], v)
            if np.isfinite(maps).all():  # else (fewer than 3 or collinear vertices) try the flow
                return maps
    if clip.amodal_flow_fwd is None:
        return None
    maps = np.empty((T, 2, 3))
    maps[0] = np.eye(2, 3)
    H, W = clip.size
    ys, xs = np.mgrid[0:H, 0:W]
    for t in range(T - 1):
        inside = clip.amodal[t, k]
        src = np.stack([xs[inside], ys[inside]], axis=-1).astype(np.float64)  # (P, 2) pixel centres
        step = _fit_affine(src, src + clip.amodal_flow_fwd[t, k][inside])  # frame t -> t + 1
        maps[t + 1] = _compose(step, maps[t])
    return maps


Follow = Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def object_motion(clip: Clip, k: int) -> Follow | None:
    """follow(t, x, y): where object k's points x, y (P,) of frame t are at every frame, (T, P) each;
    None without motion information. Exact where meta records the motion itself (scene clips: ``maps``
    and ``warps``, savos.data.sine_warp, non-rigid motion included); else the affine ``object_maps``."""
    T = clip.num_frames
    objects = clip.meta.get("objects") or []
    o = objects[k] if k < len(objects) else {}
    if o.get("maps") is not None and "warps" in o:
        try:
            maps = np.asarray(o["maps"], np.float64).reshape(T, 2, 3)
            warps = None if o["warps"] is None else np.asarray(o["warps"], np.float64).reshape(T - 1, 6)
        except (TypeError, ValueError):
            pass  # not the scene format: fall back to the fitted maps
        else:
            return lambda t, x, y: follow(maps, warps, t, x, y)
    maps = object_maps(clip, k)
    if maps is None:
        return None

    def affine(t: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        to_s = _compose(maps, _invert(maps[t]))  # (T, 2, 3) frame t -> frame s
        return (to_s[:, 0, :1] * x + to_s[:, 0, 1:2] * y + to_s[:, 0, 2:],  # (T, P)
                to_s[:, 1, :1] * x + to_s[:, 1, 1:2] * y + to_s[:, 1, 2:])
    return affine


def _hidden_reach(clip: Clip, k: int, move: Follow, t: int, hidden: np.ndarray) -> np.ndarray:
    """int16 (P,) reach of the pixels ``hidden`` (bool (H, W)) of object k at frame t: pixels where
    another object covers the point at t."""
    T = clip.num_frames
    H, W = clip.size
    rows, cols = np.nonzero(hidden)
    x, y = move(t, cols.astype(np.float64), rows.astype(np.float64))  # (T, P)
    inside = (x >= -0.5) & (x < W - 0.5) & (y >= -0.5) & (y < H - 0.5)  # False for NaN maps
    c = np.where(inside, np.floor(x + 0.5), 0).astype(np.intp)
    r = np.where(inside, np.floor(y + 0.5), 0).astype(np.intp)
    label = clip.visible[np.arange(T)[:, None], r, c]  # (T, P)
    visible = inside & ((label == k + 1) | (label == 0))
    visible[t] = False  # hidden at t by definition
    dist = np.abs(np.arange(T) - t)[:, None]  # (T, 1)
    return np.where(visible, dist, UNSEEN).min(axis=0).astype(np.int16)


def clip_guessability(clip: Clip) -> Guessability:
    """The statistics of every target object-frame of ``clip`` (module docstring)."""
    T, K, H, W = clip.amodal.shape
    area = clip.amodal.reshape(T, K, -1).sum(axis=-1)  # (T, K)
    own = clip.visible[:, None] == np.arange(1, K + 1, dtype=clip.visible.dtype)[None, :, None, None]
    n_visible = own.reshape(T, K, -1).sum(axis=-1)
    targets = clip.target_ids()
    all_maps = {k: object_motion(clip, k) for k in targets}
    has_motion = all(m is not None for m in all_maps.values())
    reach = np.full((T, K, H, W), NOT_HIDDEN, np.int16) if has_motion else None
    rows: dict[str, list] = {f.name: [] for f in fields(Guessability) if f.name != "reach"}
    for k in targets:
        for t in range(T):
            if area[t, k] == 0 or not clip.amodal_known[t, k]:  # no (known) amodal mask: no statistics
                continue
            hidden = clip.amodal[t, k] & ~own[t, k]
            n_hidden = int(hidden.sum())
            rows["object"].append(k)
            rows["frame"].append(t)
            rows["occlusion"].append(1.0 - n_visible[t, k] / area[t, k])
            rows["in_band"].append(3 * area[t, k] < 10 * n_visible[t, k] < 9 * area[t, k])
            rows["hidden"].append(n_hidden)
            rows["in_hull"].append(int((hidden & convex_hull_mask(own[t, k])).sum()) if n_hidden else 0)
            if reach is not None:
                r = _hidden_reach(clip, k, all_maps[k], t, hidden) if n_hidden else np.zeros(0, np.int16)
                reach[t, k][hidden] = r
                rows["within"].append([int((r <= d).sum()) for d in REACHES])
                rows["seen"].append(int((r < UNSEEN).sum()))
                med = float(np.median(r)) if n_hidden else 0.0
                rows["reach_median"].append(np.inf if med >= UNSEEN else med)
    n = len(rows["object"])
    return Guessability(
        object=np.array(rows["object"], np.int64), frame=np.array(rows["frame"], np.int64),
        occlusion=np.array(rows["occlusion"], np.float64), in_band=np.array(rows["in_band"], bool),
        hidden=np.array(rows["hidden"], np.int64), in_hull=np.array(rows["in_hull"], np.int64),
        within=np.array(rows["within"], np.int64).reshape(n, len(REACHES)) if has_motion else None,
        seen=np.array(rows["seen"], np.int64) if has_motion else None,
        reach_median=np.array(rows["reach_median"], np.float64) if has_motion else None,
        reach=reach)


def never_seen_regions(clip: Clip) -> np.ndarray | None:
    """bool (T, K, H, W): for each target object k and frame t (with known, non-empty amodal truth), the
    pixels another object covers at t whose point, followed with k's motion (``object_motion``), is
    visible in no frame of the clip (reach UNSEEN; the visibility rule of the module docstring). Its
    part inside ``amodal[t, k]`` is the part of the target that no frame shows; outside it, where a
    prediction of k is wrong and no frame says so. None without motion information."""
    T, K, H, W = clip.amodal.shape
    out = np.zeros((T, K, H, W), bool)
    for k in clip.target_ids():
        move = object_motion(clip, k)
        if move is None:
            return None
        for t in range(T):
            if not clip.amodal_known[t, k] or not clip.amodal[t, k].any():
                continue
            covered = (clip.visible[t] != 0) & (clip.visible[t] != k + 1)
            if covered.any():
                out[t, k][covered] = _hidden_reach(clip, k, move, t, covered) == UNSEEN
    return out


def summarize(parts: list[Guessability]) -> dict:
    """Dataset statistics of many clips' rows: JSON-able dict with ``object_frames``, ``in_band`` (share
    in (0.1, 0.7)), ``occlusion_mean``, ``occlusion_quantiles`` {q: rate}, and for ``all`` target
    object-frames and those in the ``band``: ``hidden_pixels``, ``hull_share`` and, when every clip has
    motion, ``reach_share`` {"1", "2", "4", "any": share of hidden pixels visible within t +- d}."""
    occ = np.concatenate([p.occlusion for p in parts]) if parts else np.zeros(0)
    band = np.concatenate([p.in_band for p in parts]) if parts else np.zeros(0, bool)
    out: dict = {"object_frames": int(len(occ)),
                 "in_band": float(band.mean()) if len(occ) else None,
                 "occlusion_mean": float(occ.mean()) if len(occ) else None,
                 "occlusion_quantiles": {str(q): float(np.quantile(occ, q)) if len(occ) else None
                                         for q in QUANTILES}}
    with_motion = bool(parts) and all(p.within is not None for p in parts)
    for name, select in (("all", None), ("band", band)):
        def col(field: str, select=select) -> np.ndarray:
            v = np.concatenate([getattr(p, field) for p in parts])
            return v if select is None else v[select]

        hidden = col("hidden").sum() if parts else 0
        rec: dict = {"hidden_pixels": int(hidden),
                     "hull_share": float(col("in_hull").sum() / hidden) if hidden else None}
        if with_motion and hidden:
            within = col("within").sum(axis=0)
            rec["reach_share"] = {**{str(d): float(w / hidden) for d, w in zip(REACHES, within, strict=True)},
                                  "any": float(col("seen").sum() / hidden)}
        out[name] = rec
    return out


def format_summary(s: dict) -> list[str]:
    """Report lines of ``summarize``'s dict (``savos-gen verify``)."""
    if not s["object_frames"]:
        return ["guessability: no target object-frames"]
    q = ", ".join(f"{float(k):.2f}: {v:.3f}" for k, v in s["occlusion_quantiles"].items())
    lines = [f"guessability of target object-frames ({s['object_frames']}; {100 * s['in_band']:.1f}% in the "
             f"evaluated band (0.1, 0.7)):",
             f"  occlusion rate mean {s['occlusion_mean']:.3f}; quantiles {q}"]
    for name, label in (("all", "all frames"), ("band", "in band")):
        r = s[name]
        if not r["hidden_pixels"]:
            continue
        line = (f"  {label:>10}: hidden px {r['hidden_pixels']}, inside hull of visible "
                f"{100 * r['hull_share']:.1f}%")
        if "reach_share" in r:
            rs = r["reach_share"]
            line += ("; visible at t+-1 " + f"{100 * rs['1']:.1f}%, +-2 {100 * rs['2']:.1f}%, "
                     f"+-4 {100 * rs['4']:.1f}%, any frame {100 * rs['any']:.1f}%")
        lines.append(line)
    return lines
