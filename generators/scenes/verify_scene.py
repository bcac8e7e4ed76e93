"""Re-derive every invariant of a scene clip from its own ``meta`` (``savos-gen verify``).

The vector truth is meta: each object's canonical polygon, own -> frame maps and warps, and the camera.
Checks, each against the stored arrays:
- the recorded vertices are the canonical polygon moved by the maps and warps, and the motion of each
  frame's vertices (motion.move_points) lands on the next frame's vertices (flows move the shapes);
- masks are the exact centre-sampled rasterisation of the vertices; ``visible`` is their depth order;
- rgb equals the recorded colours and textures (within one grey level);
- flows, backward flows and amodal flow equal the analytic motion at pixel centres (within 0.01 px,
  moving every pixel point by point, not through the generator's fast affine path); amodal flow is 0
  outside the masks;
- under real-video conditions (config ``flow`` / ``video_codec``, realvideo.py) the estimated flow and
  the decoded frames are not compared with the truth but measured against it (``realvideo.findings``:
  the flow's EPE and per-object motion error, the frames' PSNR); everything else is checked as above;
- warping frame t+1's amodal mask back by the amodal flow (nearest pixel) reproduces frame t's mask
  except within 1.5 px of the shape's outline (any motion, non-rigid included);
- every target meets the config's occlusion-rate range and visibility guarantee; meta's occlusion
  rates and coverages match the measured ones.
"""

from __future__ import annotations

import numpy as np

from generators.coverage import hidden_pixels
from generators.geometry import pixel_centres
from generators.render import compose_visible, render_amodal
from generators.scenes import realvideo
from generators.scenes.appearance import paint_scene
from generators.scenes.config import SceneConfig
from generators.scenes.engine import GENERATOR
from generators.scenes.flows import scene_flows
from generators.scenes.guarantee import coverage_record, coverages, occlusion_ok, unseen_ok
from generators.scenes.layout import Layout, Thing
from generators.scenes.motion import move_points, polygons
from savos.data.clip import Clip, ClipError
from savos.data.verify import Findings
from savos.errors import SavosError

FLOW_TOLERANCE = 0.01  # px: flow on disk is rounded to 1/64 px (docs/dataset-card.md)
VERTEX_TOLERANCE = 1e-6  # px
BOUNDARY = 1.5  # px: the band along a shape's outline where the warped-back mask may differ


def _layout(clip: Clip) -> tuple[SceneConfig, Layout, list[np.ndarray], list[dict], dict]:
    meta = clip.meta
    T, K = clip.amodal.shape[:2]
    if meta.get("generator") != GENERATOR:
        raise ValueError(f"meta generator is {meta.get('generator')!r}, not {GENERATOR!r}")
    cfg = SceneConfig.from_dict(meta["config"], "meta config")
    objects = meta["objects"]
    if len(objects) != K:
        raise ValueError(f"meta lists {len(objects)} objects, the arrays have {K}")
    things, vertices = [], []
    for o in objects:
        warps = None if o["warps"] is None else np.asarray(o["warps"], np.float64).reshape(T - 1, 6)
        things.append(Thing(o["role"], o["shape"], np.asarray(o["canonical"], np.float64),
                            np.asarray(o["maps"], np.float64).reshape(T, 2, 3), warps, float(o["size"])))
        vertices.append(np.asarray(o["vertices"], np.float64))
    camera = np.asarray(meta["camera"], np.float64).reshape(T, 2, 3)
    return cfg, Layout(things, camera), vertices, objects, meta["background_texture"]


def _first(mask: np.ndarray) -> str:
    return "(" + ", ".join(str(int(i)) for i in np.argwhere(mask)[0]) + ")"


def _flow_problem(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
    err = np.abs(want - got)
    worst = float(err.max(initial=0.0))
    if not worst <= FLOW_TOLERANCE:
        where = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        return (f"{name} differs from the analytic motion by {worst:.4f} px (> {FLOW_TOLERANCE}) at "
                f"{tuple(int(i) for i in where)}")
    return None


def _edge_distance(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Distance of points x, y (P,) to the nearest edge of polygon (N, 2) -> (P,)."""
    a = polygon[:, None, :]  # (N, 1, 2)
    e = np.roll(polygon, -1, axis=0)[:, None, :] - a
    px, py = x - a[..., 0], y - a[..., 1]  # (N, P)
    length2 = np.maximum(e[..., 0] ** 2 + e[..., 1] ** 2, 1e-300)
    s = np.clip((px * e[..., 0] + py * e[..., 1]) / length2, 0.0, 1.0)
    return np.hypot(px - s * e[..., 0], py - s * e[..., 1]).min(axis=0)


def warp_back_problems(amodal: np.ndarray, aflow: np.ndarray, vertices: list[np.ndarray]) -> list[str]:
    """Warping frame t+1's amodal mask back by the amodal flow (nearest pixel) must give frame t's mask
    at every pixel farther than BOUNDARY px from the shape's outline (the vector polygon of frame t;
    nearer pixels may round across it). amodal (T, K, H, W), aflow (T-1, K, H, W, 2), vertices K x
    (T, N_k, 2). Pixels whose flow leaves the frame are not tested."""
    T, K, H, W = amodal.shape
    xs, ys = pixel_centres(H, W)
    problems = []
    for k in range(K):
        bad = 0
        for t in range(T - 1):
            flat = np.flatnonzero(amodal[t, k])
            f = aflow[t, k].reshape(-1, 2)[flat]
            c = np.rint(xs[flat] + f[:, 0]).astype(np.intp)
            r = np.rint(ys[flat] + f[:, 1]).astype(np.intp)
            inside = (c >= 0) & (c < W) & (r >= 0) & (r < H)
            miss = np.zeros(len(flat), bool)
            miss[inside] = ~amodal[t + 1, k][r[inside], c[inside]]
            if miss.any():
                idx = np.flatnonzero(miss)
                bad += int((_edge_distance(xs[flat[idx]], ys[flat[idx]], vertices[k][t]) > BOUNDARY).sum())
        if bad:
            problems.append(f"object {k + 1}: warping the next frame's amodal mask back by the amodal flow "
                            f"misses {bad} pixels more than {BOUNDARY} px inside the shape")
    return problems


def check_clip(clip: Clip) -> list[str]:
    """Every problem found in a scene clip (module docstring), as lines; empty = OK."""
    try:
        clip.validate()
    except ClipError as e:
        return [f"clip contract: {e}"]
    try:
        cfg, layout, vertices, objects, background = _layout(clip)
    except (KeyError, TypeError, ValueError, SavosError) as e:
        return [f"meta: cannot read the scene ({type(e).__name__}: {e})"]
    problems: list[str] = []
    T, K, H, W = clip.amodal.shape
    things = layout.things
    for k, (th, v) in enumerate(zip(things, vertices, strict=True)):
        want = polygons(th.canonical, th.maps, th.warps)
        if want.shape != v.shape or np.abs(want - v).max() > VERTEX_TOLERANCE:
            problems.append(f"object {k + 1}: vertices are not the canonical shape moved by its maps and "
                            "warps")
            continue
        t = np.repeat(np.arange(T - 1), v.shape[1])
        x1, y1 = move_points(th.maps, th.warps, t, v[:-1, :, 0].reshape(-1), v[:-1, :, 1].reshape(-1))
        off = max(np.abs(x1 - v[1:, :, 0].reshape(-1)).max(), np.abs(y1 - v[1:, :, 1].reshape(-1)).max())
        if off > VERTEX_TOLERANCE:
            problems.append(f"object {k + 1}: the motion does not carry each frame's vertices to the next's "
                            f"(off by {off:.2e} px)")
    if problems:
        return problems

    amodal = render_amodal(vertices, H, W)
    for k in range(K):
        bad = amodal[:, k] != clip.amodal[:, k]
        if bad.any():
            problems.append(f"object {k + 1}: amodal mask differs from its polygons at {int(bad.sum())} "
                            f"pixels, first (frame, row, col) = {_first(bad)}")
    visible = compose_visible(amodal, [int(o["depth"]) for o in objects])
    bad = visible != clip.visible
    if bad.any():
        problems.append(f"visible differs from the depth order at {int(bad.sum())} pixels, "
                        f"first = {_first(bad)}")
    colors = [tuple(background["colors"][0])] + [tuple(o["appearance"]["colors"][0]) for o in objects]
    if len(set(colors)) != K + 1:
        problems.append("the base colours are not distinct")
    rgb = paint_scene(layout, clip.visible, background, [o["appearance"] for o in objects])
    bad = (np.abs(rgb.astype(np.int16) - clip.rgb) > 1).any(axis=-1)
    if cfg.video_codec == "none" and bad.any():  # h264: realvideo.findings compares them
        problems.append(f"rgb differs from the colours and textures at {int(bad.sum())} pixels, "
                        f"first (frame, row, col) = {_first(bad)}")

    maps = np.stack([th.maps for th in things], axis=1)
    fwd, bwd, aflow = scene_flows(maps, [th.warps for th in things], layout.camera, clip.visible, clip.amodal,
                                  pointwise=True)
    exact_flow = cfg.flow == "exact"  # estimated flow: realvideo.findings measures it
    visible = (("flow_fwd", clip.flow_fwd, fwd), ("flow_bwd", clip.flow_bwd, bwd)) if exact_flow else ()
    for name, got, want in (*visible, ("amodal_flow_fwd", clip.amodal_flow_fwd, aflow)):
        if got is not None and (p := _flow_problem(name, got, want)) is not None:
            problems.append(p)
    if clip.amodal_flow_fwd is not None:
        outside = (clip.amodal_flow_fwd != 0).any(axis=-1) & ~clip.amodal[:-1]
        if outside.any():
            problems.append(f"amodal_flow_fwd is not 0 outside the amodal masks, first = {_first(outside)}")
    problems += warp_back_problems(clip.amodal, aflow, vertices)

    rates = clip.occlusion_rate()
    targets = clip.target_ids()
    hidden = np.stack([hidden_pixels(clip.amodal, clip.visible, k) for k in targets]) if targets else None
    occ = cfg.occlusion
    for i, k in enumerate(targets):
        area, n_hidden = clip.amodal[:, k].sum(axis=(1, 2)), hidden[i].sum(axis=(1, 2))
        if not occlusion_ok(area, n_hidden, occ.rate, occ.frames):
            problems.append(f"object {k + 1} (target): fewer than {occ.frames:.0%} of its frames have an "
                            f"occlusion rate in {list(occ.rate)}")
    for k, o in enumerate(objects):
        if o.get("occlusion_rate") != rates[:, k].tolist():
            problems.append(f"object {k + 1}: meta occlusion_rate does not match the masks")
    lo, hi = occ.unseen_range
    if targets and (lo > 0.0 or hi < 1.0):
        covs = coverages([things[k].canonical for k in targets], maps.transpose(1, 0, 2, 3)[targets],
                         [things[k].warps for k in targets], [vertices[k + 1:] for k in targets], hidden,
                         occ.coverage_step)
        for k, c in zip(targets, covs, strict=True):
            if not unseen_ok(occ, c) and isinstance(occ.unseen, float):
                problems.append(f"object {k + 1} (target): {len(c.unseen)} of {c.samples} shape samples are "
                                f"never seen (allowed: {occ.unseen:.0%})")
            elif not unseen_ok(occ, c):
                problems.append(f"object {k + 1} (target): never-seen share {c.never_seen:.1%} of its shape "
                                f"({c.unseen_grid} of {c.grid_samples} grid samples) is outside "
                                f"occlusion.unseen [{lo:.0%}, {hi:.0%}]")
            if objects[k].get("never_seen") != coverage_record(occ, c).get("never_seen"):
                problems.append(f"object {k + 1}: meta never_seen {objects[k].get('never_seen')} does not "
                                f"match the measured {c.never_seen}")
            if objects[k].get("coverage") != c.fraction:
                problems.append(f"object {k + 1}: meta coverage {objects[k].get('coverage')} does not match "
                                f"the measured {c.fraction}")
    if realvideo.exact(cfg.flow, cfg.video_codec):
        return problems
    more, measures = realvideo.findings(clip, cfg.flow, cfg.video_codec, rgb, fwd, bwd,
                                        realvideo.exact_motions(aflow, clip.amodal))
    return Findings(problems + more, measures)
