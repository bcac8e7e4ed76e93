"""The Chewing-Gum generator (paper §4): random 7-12-node polygons that occlude each other and move
relative to each other; no target ever shows its full shape, but every part of it is shown in some frame.

Pipeline per clip: sample a scene (scene.py: shapes, and rigid motions built so that the guarantee is
the normal outcome), render its masks (render.py), measure the guarantee exactly (coverage.py); a scene
that breaks it for any target, or whose sweeps were infeasible, is rejected and the next one drawn from
the same generator, at most ``max_attempts`` scenes in all. Then colours, flows and meta.

Randomness: everything comes from ``np.random.default_rng([seed, index])`` alone.

``meta`` (JSON-exact: every number a Python int or float):
    generator "chewing-gum", version, config (``ChewingGumConfig.to_dict()``), seed, split, index,
    background [r, g, b], attempts (scenes sampled for this clip), objects: K dicts, back to front:
        role        "target" (carries the guarantee, evaluated) or "occluder"
        shape       "polygon"
        color       [r, g, b]
        depth       depth rank, 0 = back-most (= the object's index: objects are listed back to front)
        sweeps      index of the target this object sweeps (None for object 0)
        radius      radius of the node circle (pixels)
        canonical   N x [x, y]: the polygon in its own coordinates (centred on the node circle)
        pose        T x [cx, cy, angle]: own coordinates -> frame t is rotation by angle (radians,
                    +x towards +y) then translation by (cx, cy)
        vertices    T lists of N x [x, y]: the exact polygon rasterised at each frame
        occlusion_rate  T floats, 1 - |visible == k| / |amodal| (``Clip.occlusion_rate``)
        coverage, coverage_samples  (targets) fraction of the shape's samples seen in some frame (1.0)
                    and how many samples were tested (coverage.py)
"""

from __future__ import annotations

import numpy as np

import savos
from generators.config import ChewingGumConfig
from generators.coverage import hidden_pixels, occlusion_problems, shape_coverage
from generators.render import (
    amodal_flow,
    compose_visible,
    paint,
    render_amodal,
    rigid_motions,
    visible_flows,
)
from generators.scene import Scene, sample_scene
from savos.data.clip import Clip
from savos.errors import SavosError

GENERATOR = "chewing-gum"


def scene_options(cfg: ChewingGumConfig) -> dict:
    """The config fields that ``sample_scene`` takes, as keyword arguments."""
    names = ("height", "width", "frames", "num_targets", "num_occluders", "vertices", "radius",
             "radius_jitter", "speed", "rotation", "acceleration", "sweep_offset")
    return {n: getattr(cfg, n) for n in names}


def front_polygons(vertices: list[np.ndarray], depth: list[int], k: int) -> list[np.ndarray]:
    """The polygons (T, N_j, 2) in front of object k (depth rank greater than k's)."""
    return [v for j, v in enumerate(vertices) if depth[j] > depth[k]]


def _accept(cfg: ChewingGumConfig, scene: Scene, amodal: np.ndarray, visible: np.ndarray) -> dict | None:
    """Per-target coverage records if every target meets the guarantee, else None (fail fast)."""
    depth = list(range(cfg.num_objects))
    hidden = [hidden_pixels(amodal, visible, k) for k in range(cfg.num_targets)]
    for k in range(cfg.num_targets):
        area, n_hidden = amodal[:, k].sum(axis=(1, 2)), hidden[k].sum(axis=(1, 2))
        if occlusion_problems(area, n_hidden, cfg.min_occlusion, cfg.max_occlusion):
            return None
    records = {}
    for k in range(cfg.num_targets):
        # Contiguous maps, as check_clip rebuilds them from meta["pose"]: both agree bit for bit.
        maps = np.ascontiguousarray(scene.maps[:, k])
        cov = shape_coverage(scene.canonical[k], maps, front_polygons(scene.vertices, depth, k), hidden[k],
                             cfg.coverage_step)
        if len(cov.unseen):
            return None
        records[k] = {"coverage": cov.fraction, "coverage_samples": cov.samples}
    return records


def occlusion_rates(visible: np.ndarray, amodal: np.ndarray) -> np.ndarray:
    """float64 (T, K), as ``Clip.occlusion_rate`` (1 - visible area / amodal area; 0 if no area)."""
    T, K = amodal.shape[:2]
    ids = np.arange(1, K + 1, dtype=visible.dtype)[:, None]
    shown = np.count_nonzero(visible.reshape(T, 1, -1) == ids, axis=2)  # (T, K) pixels showing each
    area = np.count_nonzero(amodal.reshape(T, K, -1), axis=2)
    return np.where(area > 0, 1.0 - shown / np.maximum(area, 1), 0.0)


def _colors(cfg: ChewingGumConfig, rng: np.random.Generator) -> list[list[int]]:
    """Background + K flat colours, pairwise at least ``min_color_distance`` apart (RGB, Euclidean):
    candidates drawn in batches, each kept if far enough from those kept before it."""
    need, kept = cfg.num_objects + 1, []
    limit = cfg.min_color_distance**2
    for _ in range(1000):
        for c in rng.integers(0, 256, size=(4 * need, 3)).tolist():
            if all(sum((a - b) ** 2 for a, b in zip(c, o, strict=True)) >= limit for o in kept):
                kept.append(c)
                if len(kept) == need:
                    return kept
    raise SavosError(f"chewing-gum: cannot find {need} colours min_color_distance="
                     f"{cfg.min_color_distance} apart; lower min_color_distance")


def generate_clip(config: ChewingGumConfig, seed: int, index: int, split: str) -> Clip:
    """Clip ``index`` of a Chewing-Gum dataset with base seed ``seed``: exact masks, flows and meta.

    Deterministic: the same (config, seed, index, split) gives bit-identical arrays and meta.
    Raises SavosError if no scene meets the guarantee within ``config.max_attempts``.
    """
    for name, value in (("seed", seed), ("index", index)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise SavosError(f"chewing-gum: {name} must be a non-negative integer, got {value!r}")
    cfg, K, H, W = config, config.num_objects, config.height, config.width
    rng = np.random.default_rng([int(seed), int(index)])
    attempts, records = 0, None
    while records is None and attempts < cfg.max_attempts:
        attempts += 1
        scene = sample_scene(rng, **scene_options(cfg))
        if scene is None:  # infeasible sweeps: rejected before rendering
            continue
        amodal = render_amodal(scene.vertices, H, W)
        visible = compose_visible(amodal, list(range(K)))
        records = _accept(cfg, scene, amodal, visible)
    if records is None:
        raise SavosError(f"chewing-gum: no scene met the coverage guarantee in max_attempts="
                         f"{cfg.max_attempts} tries (seed {seed}, index {index}); raise max_attempts or "
                         f"relax the config (smaller radius, more frames, wider sweep_offset)")

    background, *colors = _colors(cfg, rng)
    fwd, bwd = rigid_motions(scene.pose)
    aflow = amodal_flow(fwd, amodal[:-1]) if cfg.amodal_flow else None
    flow_fwd, flow_bwd = visible_flows(fwd, bwd, visible, aflow)

    rates = occlusion_rates(visible, amodal)  # (T, K)
    objects = []
    for k in range(K):
        obj = {"role": "target" if k < cfg.num_targets else "occluder", "shape": "polygon",
               "color": colors[k], "depth": k, "sweeps": scene.sweeps[k],
               "radius": float(scene.radius[k]), "canonical": scene.canonical[k].tolist(),
               "pose": scene.pose[:, k].tolist(), "vertices": scene.vertices[k].tolist(),
               "occlusion_rate": rates[:, k].tolist()}
        obj.update(records.get(k, {}))
        objects.append(obj)
    meta = {"generator": GENERATOR, "version": savos.__version__, "config": cfg.to_dict(),
            "seed": int(seed), "split": str(split), "index": int(index), "background": background,
            "attempts": attempts, "objects": objects}
    return Clip(paint(visible, background, colors), visible, amodal, flow_fwd, flow_bwd, aflow, meta)
