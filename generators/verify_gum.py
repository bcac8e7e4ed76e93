"""Re-derive every invariant of a Chewing-Gum clip from its own ``meta`` (``savos-gen verify``).

Nothing here trusts the generator's internals: the per-frame vertices in ``meta`` are the vector truth.
The motion between frames is recovered from the vertex correspondences (a least-squares affine fit, which
must be exact and rigid); the vertices must be the canonical shape moved by the recorded pose, whose maps
give each target's own coordinates for the coverage guarantee (coverage.py). From these the masks,
labels, colours, flows and the guarantee are rebuilt and compared with the arrays and the meta records.
Under real-video conditions (config ``flow`` / ``video_codec``) the estimated flow and the decoded frames
are measured against the rebuilt ones instead (generators/scenes/realvideo.py ``findings``).
"""

from __future__ import annotations

import numpy as np

from generators.config import ChewingGumConfig
from generators.coverage import hidden_pixels, occlusion_problems, shape_coverage
from generators.geometry import apply_affine, fit_affine, rigid_maps
from generators.render import amodal_flow, compose_visible, flow_at_labels, paint, render_amodal
from generators.scenes import realvideo
from savos.data.clip import Clip, ClipError
from savos.data.verify import Findings
from savos.errors import SavosError

FLOW_TOLERANCE = 0.01  # px: flow stored on disk is rounded to 1/64 px (docs/dataset-card.md)
FIT_TOLERANCE = 1e-6  # px: vertices must be an exact rigid image of the previous frame's


class _Geometry:
    """The vector truth of a clip, parsed from meta. Raises ValueError/KeyError/TypeError if malformed."""

    def __init__(self, clip: Clip):
        T, K, _, _ = clip.amodal.shape
        meta = clip.meta
        if meta.get("generator") != "chewing-gum":
            raise ValueError(f"meta generator is {meta.get('generator')!r}, not 'chewing-gum'")
        objects = meta["objects"]
        if len(objects) != K:
            raise ValueError(f"meta lists {len(objects)} objects, the arrays have {K}")
        self.config = ChewingGumConfig.from_dict(meta["config"])
        self.vertices = [np.asarray(o["vertices"], np.float64) for o in objects]  # K x (T, N_k, 2)
        self.canonical = [np.asarray(o["canonical"], np.float64) for o in objects]  # K x (N_k, 2)
        for k, (v, c) in enumerate(zip(self.vertices, self.canonical, strict=True)):
            if v.ndim != 3 or v.shape[0] != T or v.shape[2] != 2 or c.shape != v.shape[1:]:
                raise ValueError(f"object {k + 1}: vertices {v.shape} / canonical {c.shape} do not match "
                                 f"{T} frames of N x 2 points")
        self.pose = [np.asarray(o["pose"], np.float64).reshape(T, 3) for o in objects]  # cx, cy, angle
        self.depth = [int(o["depth"]) for o in objects]
        self.colors = [list(o["color"]) for o in objects]
        self.background = list(meta["background"])
        self.roles = [o["role"] for o in objects]
        if not set(self.roles) <= {"target", "occluder"}:
            raise ValueError(f"roles must be 'target' or 'occluder', got {self.roles}")


def _first(mask: np.ndarray) -> str:
    return "(" + ", ".join(str(int(i)) for i in np.argwhere(mask)[0]) + ")"


def _motions(vertices: list[np.ndarray], problems: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Frame-to-frame motions recovered from the vertices: fwd, bwd (T-1, K, 2, 3); checks rigidity."""
    fwd, bwd = [], []
    for k, v in enumerate(vertices):
        f, res_f = fit_affine(v[:-1], v[1:])
        b, res_b = fit_affine(v[1:], v[:-1])
        lin = f[:, :, :2]
        gram = lin @ np.swapaxes(lin, 1, 2)
        if max(res_f.max(), res_b.max()) > FIT_TOLERANCE:
            problems.append(f"object {k + 1}: vertices do not move affinely between frames "
                            f"(residual {max(res_f.max(), res_b.max()):.2e} px)")
        elif np.abs(gram - np.eye(2)).max() > 1e-9 or (np.linalg.det(lin) <= 0).any():
            problems.append(f"object {k + 1}: the motion between frames is not rigid")
        fwd.append(f)
        bwd.append(b)
    return np.stack(fwd, axis=1), np.stack(bwd, axis=1)


def _flow_problem(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
    """Compare float32 flows; ``want`` is overwritten with the absolute error (no large temporaries)."""
    err = np.abs(np.subtract(want, got, out=want), out=want)
    worst = float(err.max(initial=0.0))
    if not worst <= FLOW_TOLERANCE:  # also catches nan
        where = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        return (f"{name} differs from the motion of the vertices by {worst:.4f} px (> {FLOW_TOLERANCE}) "
                f"at {tuple(int(i) for i in where)}")
    return None


def coverage_stats(clip: Clip, geometry: _Geometry | None = None) -> dict:
    """Per object: the guarantee measured from the clip's meta and masks (coverage.py).

    Returns ``{"objects": [...]}``, one dict per object with ``role``, ``occlusion_rate`` (T floats,
    pixel-wise), ``min_occlusion``, ``max_occlusion`` and, for targets, ``coverage`` (fraction of the
    shape's samples seen in some frame; 1.0 when the guarantee holds), ``samples``, ``unseen`` and
    ``problems`` (frames breaking the never-full-shape half, unseen samples).
    """
    g = geometry or _Geometry(clip)
    cfg = g.config
    rates = clip.occlusion_rate()  # (T, K)
    front = [[v for j, v in enumerate(g.vertices) if g.depth[j] > g.depth[k]] for k in range(len(g.vertices))]
    out = []
    for k, role in enumerate(g.roles):
        rec = {"role": role, "occlusion_rate": rates[:, k].tolist(),
               "min_occlusion": float(rates[:, k].min()), "max_occlusion": float(rates[:, k].max())}
        if role == "target":
            hidden = hidden_pixels(clip.amodal, clip.visible, k)
            problems = occlusion_problems(clip.amodal[:, k].sum(axis=(1, 2)), hidden.sum(axis=(1, 2)),
                                          cfg.min_occlusion, cfg.max_occlusion)
            maps = rigid_maps(*g.pose[k].T)  # (T, 2, 3) own coordinates -> frame t, as the generator's
            off = np.abs(apply_affine(maps, g.canonical[k]) - g.vertices[k]).max()
            if off > FIT_TOLERANCE:
                problems.append(f"vertices are not the canonical shape moved by the recorded pose "
                                f"(off by {off:.2e} px)")
            cov = shape_coverage(g.canonical[k], maps, front[k], hidden, cfg.coverage_step)
            if len(cov.unseen):
                problems.append(f"{len(cov.unseen)} of {cov.samples} samples of its shape are never seen, "
                                f"e.g. at {np.round(cov.unseen[0], 3).tolist()} in its own coordinates")
            rec.update(coverage=cov.fraction, samples=cov.samples, unseen=len(cov.unseen), problems=problems)
        out.append(rec)
    return {"objects": out}


def check_clip(clip: Clip) -> list[str]:
    """Every problem found in a Chewing-Gum clip, as human-readable lines (empty list = OK).

    Checks: the Clip contract; masks equal to the exact centre-sampled rasterisation of the per-frame
    vertices in meta; ``visible`` equal to the depth order applied to them; ``rgb`` equal to the flat
    colours; flows equal (within 0.01 px) to the rigid motion recovered from the vertex correspondences;
    amodal flow 0 outside the amodal masks; the coverage guarantee for every target; meta's records.
    """
    try:
        clip.validate()
    except ClipError as e:
        return [f"clip contract: {e}"]
    try:
        g = _Geometry(clip)
    except (KeyError, TypeError, ValueError, SavosError) as e:
        return [f"meta: cannot read the vector shapes ({type(e).__name__}: {e})"]
    problems: list[str] = []
    H, W = clip.size

    amodal = render_amodal(g.vertices, H, W)
    for k in range(clip.num_objects):
        bad = amodal[:, k] != clip.amodal[:, k]
        if bad.any():
            problems.append(f"object {k + 1}: amodal mask differs from its polygons at {int(bad.sum())} "
                            f"pixels, first (frame, row, col) = {_first(bad)}")
    visible = compose_visible(amodal, g.depth)
    bad = visible != clip.visible
    if bad.any():
        problems.append(f"visible differs from the depth order of the polygons at {int(bad.sum())} pixels, "
                        f"first (frame, row, col) = {_first(bad)}")
    if len({tuple(c) for c in [g.background, *g.colors]}) != len(g.colors) + 1:
        problems.append("the flat colours are not distinct")
    rendered = paint(clip.visible, g.background, g.colors)
    bad = (rendered != clip.rgb).any(axis=-1)
    if g.config.video_codec == "none" and bad.any():  # h264: realvideo.findings compares them
        problems.append(f"rgb differs from the flat colours at {int(bad.sum())} pixels, "
                        f"first (frame, row, col) = {_first(bad)}")

    fwd, bwd = _motions(g.vertices, problems)
    exact_fwd, exact_bwd = flow_at_labels(fwd, clip.visible[:-1]), flow_at_labels(bwd, clip.visible[1:])
    if g.config.flow == "exact":  # (_flow_problem overwrites them; estimated flow: realvideo.findings)
        for name, got, want in (("flow_fwd", clip.flow_fwd, exact_fwd),
                                ("flow_bwd", clip.flow_bwd, exact_bwd)):
            if (p := _flow_problem(name, got, want)) is not None:
                problems.append(p)
    if clip.amodal_flow_fwd is not None:
        inside = clip.amodal[:-1, :, :, :, None]
        if np.logical_and(clip.amodal_flow_fwd != 0, ~inside).any():
            problems.append(f"amodal_flow_fwd is not 0 outside the amodal masks, first (frame, object, row, "
                            f"col, channel) = {_first((clip.amodal_flow_fwd != 0) & ~inside)}")
        want = amodal_flow(fwd, clip.amodal[:-1])
        if (p := _flow_problem("amodal_flow_fwd", clip.amodal_flow_fwd, want)) is not None:
            problems.append(p)

    stats = coverage_stats(clip, g)
    for k, (rec, obj) in enumerate(zip(stats["objects"], clip.meta["objects"], strict=True)):
        problems += [f"object {k + 1} (target): {p}" for p in rec.get("problems", [])]
        if obj.get("occlusion_rate") != rec["occlusion_rate"]:
            problems.append(f"object {k + 1}: meta occlusion_rate does not match the masks")
        if rec["role"] == "target" and obj.get("coverage") != rec["coverage"]:
            problems.append(f"object {k + 1}: meta coverage {obj.get('coverage')} does not match the "
                            f"measured {rec['coverage']}")
    cfg = g.config
    if realvideo.exact(cfg.flow, cfg.video_codec):
        return problems
    shown = clip.amodal[:-1].sum(axis=(2, 3)) >= realvideo.MIN_PIXELS  # the rigid motions are the truth
    more, measures = realvideo.findings(clip, cfg.flow, cfg.video_codec, rendered, exact_fwd, exact_bwd,
                                        (fwd.astype(np.float64), shown))
    return Findings(problems + more, measures)
