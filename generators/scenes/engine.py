"""The scene engine (``savos-gen scene``): sample a layout, render its exact masks, keep it only if every
target meets the occlusion range and the visibility guarantee, then paint, compute flows and meta.

Per clip, everything comes from ``np.random.default_rng([seed, index])``: layouts are drawn until one is
accepted (at most ``max_attempts``), then colours and textures. Objects are listed back to front (depth
rank = index). Vector truth: every object's polygon at every frame (layout.py, motion.py), rasterised by
the one inside rule (generators/geometry.py).

``meta`` (JSON-exact), besides generator "scene", version, config (``SceneConfig.to_dict()``), seed,
split, index, attempts:
    background        [r, g, b] base colour; background_texture its texture record (appearance.py)
    camera            T x 2 x 3 world -> frame maps
    objects           K dicts, back to front: role, shape (family), color, depth, sweeps, size,
                      canonical (N x [x, y]), maps (T x 2 x 3 own -> frame t), warps ((T-1) x 6 or None,
                      motion.py), appearance (texture record), vertices (T x N x [x, y]: the polygon
                      rasterised at each frame), occlusion_rate (T floats); targets also coverage (the
                      fraction of shape samples seen in some frame) and coverage_samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

import savos
from generators.coverage import hidden_pixels
from generators.geometry import pixel_centres, rasterize
from generators.render import compose_visible, paint, render_amodal, sample_colors
from generators.scenes.appearance import sample_texture, shade
from generators.scenes.config import SceneConfig
from generators.scenes.flows import scene_flows, still
from generators.scenes.guarantee import coverages, occlusion_ok
from generators.scenes.layout import Layout, sample_layout
from generators.scenes.motion import is_rigid, polygons, to_own
from savos.data.bitcount import count_true
from savos.data.clip import Clip, occlusion_rate
from savos.errors import SavosError

GENERATOR = "scene"


def _accept(cfg: SceneConfig, layout: Layout, vertices: list[np.ndarray], amodal: np.ndarray,
            visible: np.ndarray) -> dict | None:
    """Coverage records of the targets if every target passes (guarantee.py), else None."""
    T = amodal.shape[0]
    targets = [k for k, th in enumerate(layout.things) if th.role == "target"]
    hidden = np.stack([hidden_pixels(amodal, visible, k) for k in targets])  # (R, T, H, W)
    area = count_true(amodal[:, targets].reshape(T, len(targets), -1)).T  # (R, T)
    n_hidden = count_true(hidden.reshape(len(targets), T, -1))
    occ = cfg.occlusion
    if not all(occlusion_ok(area[i], n_hidden[i], occ.rate, occ.frames) for i in range(len(targets))):
        return None
    if occ.unseen >= 1.0:
        return {}
    things = layout.things
    covs = coverages([things[k].canonical for k in targets], np.stack([things[k].maps for k in targets]),
                     [things[k].warps for k in targets], [vertices[k + 1:] for k in targets], hidden,
                     occ.coverage_step)
    if any(len(c.unseen) > occ.unseen * c.samples for c in covs):
        return None
    return {k: {"coverage": c.fraction, "coverage_samples": c.samples}
            for k, c in zip(targets, covs, strict=True)}


def render_scene(things: list, vertices: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """``render_amodal(vertices, H, W)`` (bool (T, K, H, W)), the same masks: an object that never moves
    is rasterised once, and the moving ones together (the rasteriser's window is the largest object's
    extent, so a frame-sized fence or border would widen every window)."""
    T = vertices[0].shape[0]
    fixed = [k for k, th in enumerate(things) if is_rigid(th.warps) and (th.maps == th.maps[:1]).all()]
    moving = [k for k in range(len(things)) if k not in fixed]
    amodal = np.empty((T, len(things), height, width), bool)
    if moving:
        amodal[:, moving] = render_amodal([vertices[k] for k in moving], height, width)
    for k in fixed:
        amodal[:, k] = rasterize(vertices[k][:1], height, width)
    return amodal


def generate_clip(config: SceneConfig, seed: int, index: int, split: str) -> Clip:
    """Clip ``index`` of a scene dataset with base seed ``seed``; deterministic (same bytes for the same
    arguments). Raises SavosError if no layout is accepted within ``config.max_attempts``."""
    for name, value in (("seed", seed), ("index", index)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise SavosError(f"scene: {name} must be a non-negative integer, got {value!r}")
    cfg = config
    H, W = cfg.frame.height, cfg.frame.width
    rng = np.random.default_rng([int(seed), int(index)])
    for attempt in range(1, cfg.max_attempts + 1):
        layout = sample_layout(rng, cfg)
        if layout is None:
            continue
        vertices = [polygons(th.canonical, th.maps, th.warps) for th in layout.things]
        amodal = render_scene(layout.things, vertices, H, W)
        visible = compose_visible(amodal, list(range(len(vertices))))
        records = _accept(cfg, layout, vertices, amodal, visible)
        if records is not None:
            return _finish(cfg, seed, index, split, rng, layout, vertices, amodal, visible, records, attempt)
    raise SavosError(f"scene: no layout met the occlusion range and guarantee in max_attempts="
                     f"{cfg.max_attempts} tries (seed {seed}, index {index}); raise max_attempts or relax "
                     "occlusion.rate / occlusion.frames / occlusion.unseen")


def paint_scene(layout: Layout, visible: np.ndarray, background: dict, textures: list[dict]) -> np.ndarray:
    """rgb uint8 (T, H, W, 3) of labels (T, H, W): flat colours, then each textured surface (the
    background's in world coordinates, an object's in its canonical ones)."""
    T, H, W = visible.shape
    rgb = paint(visible, background["colors"][0], [tx["colors"][0] for tx in textures])
    centre = np.array([(W - 1) / 2.0, (H - 1) / 2.0])
    xs, ys = pixel_centres(H, W)
    view = rgb.reshape(-1, 3)
    for label, tex in enumerate([background, *textures]):
        if tex["kind"] == "flat":
            continue
        flat = np.flatnonzero(visible == label)
        t = flat // (H * W)
        pixel = flat - t * (H * W)
        if label == 0 and still(layout.camera):  # one frame of background serves every frame
            view[flat] = shade(tex, xs - centre[0], ys - centre[1]).take(pixel, axis=0)
            continue
        x, y = xs.take(pixel), ys.take(pixel)
        if label == 0:  # world coordinates, from the frame centre
            u, v = to_own(layout.camera, None, t, x, y)
            u, v = u - centre[0], v - centre[1]
        else:
            th = layout.things[label - 1]
            u, v = to_own(th.maps, th.warps, t, x, y)
        view[flat] = shade(tex, u, v)
    return rgb


def _finish(cfg: SceneConfig, seed: int, index: int, split: str, rng: np.random.Generator, layout: Layout,
            vertices: list[np.ndarray], amodal: np.ndarray, visible: np.ndarray, records: dict,
            attempts: int) -> Clip:
    things = layout.things
    K, H, W = len(things), cfg.frame.height, cfg.frame.width
    bg, *colors = sample_colors(rng, K + 1, cfg.min_color_distance, "scene")
    textures = []
    for k, th in enumerate(things):
        group = cfg.targets if th.role == "target" else cfg.occluders
        kinds = group.appearance if th.family not in ("fence", "square", "border") else ("flat",)
        kind = kinds[0] if len(kinds) == 1 else kinds[int(rng.integers(0, len(kinds)))]
        textures.append(sample_texture(rng, kind, colors[k], th.size))
    background = sample_texture(rng, cfg.background.kind, bg, min(H, W) / 2.0)
    maps = np.stack([th.maps for th in things], axis=1)  # (T, K, 2, 3)
    flow_fwd, flow_bwd, aflow = scene_flows(maps, [th.warps for th in things], layout.camera, visible, amodal)
    rates = occlusion_rate(visible, amodal)
    objects = []
    for k, th in enumerate(things):
        obj = {"role": th.role, "shape": th.family, "color": colors[k], "depth": k, "sweeps": th.sweeps,
               "size": float(th.size), "canonical": th.canonical.tolist(), "maps": th.maps.tolist(),
               "warps": None if th.warps is None else th.warps.tolist(), "appearance": textures[k],
               "vertices": vertices[k].tolist(), "occlusion_rate": rates[:, k].tolist()}
        obj.update(records.get(k, {}))
        objects.append(obj)
    meta = {"generator": GENERATOR, "version": savos.__version__, "config": cfg.to_dict(), "seed": int(seed),
            "split": str(split), "index": int(index), "background": bg, "background_texture": background,
            "camera": layout.camera.tolist(), "attempts": attempts, "objects": objects}
    rgb = paint_scene(layout, visible, background, textures)
    return Clip(rgb, visible, amodal, flow_fwd, flow_bwd, aflow if cfg.amodal_flow else None, meta)


@dataclass(frozen=True)
class ClipMaker:
    """The clips of one scene dataset, for ``write_dataset``: ``maker(index, split)``."""

    config: SceneConfig
    seed: int
    valid_by_construction: ClassVar[bool] = True  # tests validate them over every preset; readers do too

    def __call__(self, index: int, split: str) -> Clip:
        return generate_clip(self.config, self.seed, index, split)

    def many(self, indices: Sequence[int], split: str) -> Iterator[Clip]:
        return (generate_clip(self.config, self.seed, i, split) for i in indices)
