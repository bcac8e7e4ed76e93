"""The Chewing-Gum generator (paper §4): random 7-12-node polygons that occlude each other and move
relative to each other; no target ever shows its full shape, but every part of it is shown in some frame.

Pipeline per clip: sample a scene (scene.py: shapes, and rigid motions built so that the guarantee is
the normal outcome), render its masks (render.py), measure the guarantee exactly (coverage.py); a scene
that breaks it for any target, or whose sweeps were infeasible, is rejected and the next one drawn from
the same generator, at most ``max_attempts`` scenes in all. Then colours, flows and meta.

Clips can be made together (``generate_clips``, ``iter_clips``, ``ClipMaker.many``; the dataset writer
does, 25 at a time): every clip still draws from its own generator in the same order, so the bytes are
those of ``generate_clip``, but the scenes of all of them are rendered and checked in one batch, which
shares numpy's per-call cost (it dominates a 64 x 64 clip). Flows, colours and meta are made clip by
clip, when the clip is asked for, so that its arrays are still in the CPU cache when it is encoded.

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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

import savos
from generators.config import ChewingGumConfig
from generators.coverage import hidden_pixels, occlusion_problems, shape_coverages
from generators.render import (
    amodal_flow,
    compose_visible,
    paint,
    render_amodal_many,
    rigid_motions,
    sample_colors,
    visible_flows,
)
from generators.scene import Scene, sample_scene
from savos.data.bitcount import count_true
from savos.data.clip import Clip, occlusion_rate
from savos.errors import SavosError

GENERATOR = "chewing-gum"


def scene_options(cfg: ChewingGumConfig) -> dict:
    """The config fields that ``sample_scene`` takes, as keyword arguments."""
    names = ("height", "width", "frames", "num_targets", "num_occluders", "vertices", "radius",
             "radius_jitter", "speed", "rotation", "acceleration", "sweep_offset", "arms", "arm_length",
             "arm_width", "occluder_scale")
    return {n: getattr(cfg, n) for n in names}


def front_polygons(vertices: list[np.ndarray], depth: list[int], k: int) -> list[np.ndarray]:
    """The polygons (T, N_j, 2) in front of object k (depth rank greater than k's)."""
    return [v for j, v in enumerate(vertices) if depth[j] > depth[k]]


def _accept_many(cfg: ChewingGumConfig, scenes: list[Scene], amodal: np.ndarray,
                 visible: np.ndarray) -> list[dict | None]:
    """Per scene (amodal (S, T, K, H, W), visible (S, T, H, W)): the targets' coverage records if every
    target meets the guarantee, else None."""
    S, T = visible.shape[:2]
    R = cfg.num_targets
    depth = list(range(cfg.num_objects))
    hidden = np.stack([hidden_pixels(amodal, visible, k) for k in range(R)], axis=1)  # (S, R, T, H, W)
    area = count_true(amodal[:, :, :R].reshape(S, T, R, -1)).transpose(0, 2, 1)  # (S, R, T)
    n_hidden = count_true(hidden.reshape(S, R, T, -1))
    ok = [not any(occlusion_problems(area[s, k], n_hidden[s, k], cfg.min_occlusion, cfg.max_occlusion)
                  for k in range(R)) for s in range(S)]
    todo = [s for s in range(S) if ok[s]]
    out: list[dict | None] = [None] * S
    if not todo:
        return out
    # Contiguous maps, as check_clip rebuilds them from meta["pose"]: both agree bit for bit.
    maps = np.ascontiguousarray(np.stack([scenes[s].maps for s in todo]).transpose(0, 2, 1, 3, 4)[:, :R])
    covs = shape_coverages([scenes[s].canonical[k] for s in todo for k in range(R)],
                           maps.reshape(-1, T, 2, 3),
                           [front_polygons(scenes[s].vertices, depth, k) for s in todo for k in range(R)],
                           (hidden if len(todo) == S else hidden[todo]).reshape(-1, *hidden.shape[2:]),
                           cfg.coverage_step)
    for i, s in enumerate(todo):
        mine = covs[i * R:(i + 1) * R]
        if not any(len(c.unseen) for c in mine):
            out[s] = {k: {"coverage": c.fraction, "coverage_samples": c.samples} for k, c in enumerate(mine)}
    return out


def generate_clip(config: ChewingGumConfig, seed: int, index: int, split: str) -> Clip:
    """Clip ``index`` of a Chewing-Gum dataset with base seed ``seed``: exact masks, flows and meta.

    Deterministic: the same (config, seed, index, split) gives bit-identical arrays and meta.
    Raises SavosError if no scene meets the guarantee within ``config.max_attempts``.
    """
    return generate_clips(config, seed, [index], split)[0]


def generate_clips(config: ChewingGumConfig, seed: int, indices: Sequence[int], split: str) -> list[Clip]:
    """``[generate_clip(config, seed, i, split) for i in indices]``, bit for bit, made together: each
    clip draws from its own generator in the same order, while rendering and the guarantee's check
    run once per batch of scenes (numpy's per-call cost dominates them on a 64 x 64 clip)."""
    return list(iter_clips(config, seed, indices, split))


BATCH_PIXELS = 5 * 2**20  # mask pixels (T x K x H x W) rendered together: 26 default clips, 3 at 128x128x32


def iter_clips(config: ChewingGumConfig, seed: int, indices: Sequence[int], split: str) -> Iterator[Clip]:
    """``generate_clips`` one clip at a time: the scenes of a batch are drawn, rendered and checked
    first, then each clip is finished when it is asked for (so its arrays are still in cache when
    encoded). Batches hold at most BATCH_PIXELS mask pixels, so memory stays flat at any clip size."""
    for name, values in (("seed", [seed]), ("index", indices)):
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise SavosError(f"chewing-gum: {name} must be a non-negative integer, got {value!r}")
    cfg = config
    size = max(1, BATCH_PIXELS // (cfg.frames * cfg.num_objects * cfg.height * cfg.width))
    for start in range(0, len(indices), size):
        yield from _batch(cfg, seed, indices[start:start + size], split)


def _batch(cfg: ChewingGumConfig, seed: int, indices: Sequence[int], split: str) -> Iterator[Clip]:
    K, H, W, T = cfg.num_objects, cfg.height, cfg.width, cfg.frames
    n = len(indices)
    rngs = [np.random.default_rng([int(seed), int(i)]) for i in indices]
    attempts = [0] * n
    scenes: list[Scene | None] = [None] * n
    records: list[dict | None] = [None] * n
    amodal = np.empty((n, T, K, H, W), bool)  # every clip's slot is filled once its scene is accepted
    visible = np.empty((n, T, H, W), np.uint8)
    pending = list(range(n))
    while pending:  # one more scene for every clip without an accepted one
        drawn = []
        for c in pending:
            scene = None
            while scene is None and attempts[c] < cfg.max_attempts:
                attempts[c] += 1
                scene = sample_scene(rngs[c], **scene_options(cfg))  # None: infeasible sweeps
            if scene is None:
                _give_up(cfg, seed, indices[c])
            drawn.append(scene)
        S = len(drawn)
        masks = render_amodal_many([sc.vertices for sc in drawn], H, W)  # (S, T, K, H, W)
        labels = compose_visible(masks.reshape(S * T, K, H, W), list(range(K))).reshape(S, T, H, W)
        accepted = _accept_many(cfg, drawn, masks, labels)
        if S == n and all(rec is not None for rec in accepted):  # the usual first round: no copies
            scenes, records, amodal, visible = drawn, accepted, masks, labels
            break
        still = []
        for c, scene, mask, label, rec in zip(pending, drawn, masks, labels, accepted, strict=True):
            if rec is not None:
                scenes[c], records[c], amodal[c], visible[c] = scene, rec, mask, label
            elif attempts[c] >= cfg.max_attempts:
                _give_up(cfg, seed, indices[c])
            else:
                still.append(c)
        pending = still

    # Per clip from here: flows, colours and encoding touch ~2 MB per clip, which stays in the CPU
    # caches one clip at a time (a whole batch would not).
    for c, index in enumerate(indices):
        yield _finish(cfg, seed, index, split, rngs[c], scenes[c], records[c], attempts[c], amodal[c],
                      visible[c])


def _finish(cfg: ChewingGumConfig, seed: int, index: int, split: str, rng: np.random.Generator, scene: Scene,
            records: dict, attempts: int, amodal: np.ndarray, visible: np.ndarray) -> Clip:
    """The clip of an accepted scene: colours (drawn last from the clip's generator), flows and meta."""
    K = cfg.num_objects
    background, *colors = sample_colors(rng, cfg.num_objects + 1, cfg.min_color_distance, "chewing-gum")
    fwd, bwd = rigid_motions(scene.pose)
    aflow = amodal_flow(fwd, amodal[:-1]) if cfg.amodal_flow else None
    flow_fwd, flow_bwd = visible_flows(fwd, bwd, visible, aflow)
    rates = occlusion_rate(visible, amodal)  # (T, K)
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


@dataclass(frozen=True)
class ClipMaker:
    """The clips of one dataset, for ``write_dataset``: ``maker(index, split)`` is one clip and
    ``maker.many(indices, split)`` several, made together (faster); both ``generate_clip``'s bytes."""

    config: ChewingGumConfig
    seed: int
    # Its clips meet the Clip contract by construction (tests/test_chewing_gum.py validates them over
    # seeds and options), so the writer does not validate them again; every reader does.
    valid_by_construction: ClassVar[bool] = True

    def __call__(self, index: int, split: str) -> Clip:
        return generate_clip(self.config, self.seed, index, split)

    def many(self, indices: Sequence[int], split: str) -> Iterator[Clip]:
        return iter_clips(self.config, self.seed, indices, split)


def _give_up(cfg: ChewingGumConfig, seed: int, index: int) -> None:
    raise SavosError(f"chewing-gum: no scene met the coverage guarantee in max_attempts="
                     f"{cfg.max_attempts} tries (seed {seed}, index {index}); raise max_attempts or "
                     f"relax the config (smaller radius, more frames, wider sweep_offset)")
