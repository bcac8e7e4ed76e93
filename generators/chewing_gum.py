"""Chewing Gum (paper §4), a preset of the scene engine: random 7-12-node polygons that occlude each other
and move relative to each other; no target ever shows its full shape, but every part of it is shown in
some frame.

``savos-gen chewing-gum`` keeps its options and its config (``ChewingGumConfig``, generators/config.py;
e.g. recipes/data/gum-hard.yaml), which ``scene_config`` translates into a scene config of layout
``gum`` (the sweep planner of generators/scenes/gum_planner.py); the clips are then made by the one
engine (generators/scenes/engine.py), with meta in Chewing Gum's own format (``GumRecord``), which
``savos-gen verify`` checks with generators/verify_gum.py. recipes/scenes/gum.yaml is the default config's
translation: ``savos-gen scene`` makes the same clips from it, with the scene format's meta.

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

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import savos
from generators.config import ChewingGumConfig
from generators.scenes import engine
from generators.scenes.appearance import Look
from generators.scenes.config import (
    FrameConfig,
    GroupConfig,
    GumConfig,
    MotionConfig,
    OcclusionConfig,
    SceneConfig,
)
from generators.scenes.dataset import split_counts
from generators.scenes.meta import Drawn, object_records
from savos.data.clip import Clip
from savos.data.writer import write_dataset

__all__ = ["GENERATOR", "ChewingGumConfig", "ClipMaker", "GumRecord", "generate_clip", "generate_clips",
           "iter_clips", "scene_config", "write_chewing_gum_dataset"]

GENERATOR = "chewing-gum"


@functools.lru_cache(maxsize=16)
def scene_config(config: ChewingGumConfig) -> SceneConfig:
    """The scene config (layout gum) whose clips are this config's: every option maps to the scene option
    of the same meaning. Occluders are drawn with the targets' size, nodes, jitter and motion (their
    radius times ``occluder_scale``), so their group repeats the targets'. ``min_occlusion`` 0 still
    hides at least one pixel of every target in every frame (the full shape is never shown); the scene
    rate 0 would not, so the smallest positive rate stands in for it."""
    c = config
    motion = MotionConfig(speed=c.speed, rotation=c.rotation, acceleration=c.acceleration)
    targets = GroupConfig(count=(c.num_targets, c.num_targets), families=("gum",), size=c.radius,
                          vertices=c.vertices, jitter=c.radius_jitter, motion=motion)
    return SceneConfig(
        frame=FrameConfig(height=c.height, width=c.width, frames=c.frames), targets=targets,
        occluders=replace(targets, count=(c.num_occluders, c.num_occluders)),
        occlusion=OcclusionConfig(rate=(max(c.min_occlusion, math.ulp(0.0)), c.max_occlusion), frames=1.0,
                                  unseen=0.0, sweep_offset=c.sweep_offset, coverage_step=c.coverage_step),
        gum=GumConfig(arms=c.arms, arm_length=c.arm_length, arm_width=c.arm_width,
                      occluder_scale=c.occluder_scale),
        layout="gum", min_color_distance=c.min_color_distance, amodal_flow=c.amodal_flow,
        max_attempts=c.max_attempts, flow=c.flow, video_codec=c.video_codec)


@dataclass(frozen=True)
class GumRecord:
    """Chewing Gum's meta (module docstring) for the engine's clips of ``scene_config(config)``."""

    config: ChewingGumConfig
    generator: ClassVar[str] = GENERATOR
    relax: ClassVar[str] = "the config (smaller radius, more frames, wider sweep_offset)"

    def meta(self, config: SceneConfig, where: tuple[int, int, str], drawn: Drawn, look: Look,
             rates: np.ndarray) -> dict:
        seed, index, split = where
        objects = object_records(drawn, look, rates, lambda k, th: {
            "shape": "polygon", "radius": float(th.size), "pose": th.pose.tolist()})
        return {"generator": GENERATOR, "version": savos.__version__, "config": self.config.to_dict(),
                "seed": int(seed), "split": str(split), "index": int(index), "background": look.background,
                "attempts": drawn.attempts, "objects": objects}


def generate_clip(config: ChewingGumConfig, seed: int, index: int, split: str) -> Clip:
    """Clip ``index`` of a Chewing-Gum dataset with base seed ``seed``: exact masks, flows and meta.

    Deterministic: the same (config, seed, index, split) gives bit-identical arrays and meta.
    Raises SavosError if no scene meets the guarantee within ``config.max_attempts``.
    """
    return engine.generate_clip(scene_config(config), seed, index, split, GumRecord(config))


def generate_clips(config: ChewingGumConfig, seed: int, indices: Sequence[int], split: str) -> list[Clip]:
    """``[generate_clip(config, seed, i, split) for i in indices]``, bit for bit, made together."""
    return list(iter_clips(config, seed, indices, split))


def iter_clips(config: ChewingGumConfig, seed: int, indices: Sequence[int], split: str) -> Iterator[Clip]:
    """``generate_clips`` one clip at a time (``engine.iter_clips``: batches, flat memory)."""
    return engine.iter_clips(scene_config(config), seed, indices, split, GumRecord(config))


def ClipMaker(config: ChewingGumConfig, seed: int) -> engine.ClipMaker:
    """The clips of one Chewing-Gum dataset, for ``write_dataset``: the engine's maker of the
    translated config, writing Chewing Gum's meta (a function, named as the class it replaces)."""
    return engine.ClipMaker(scene_config(config), seed, GumRecord(config))


def description(config: ChewingGumConfig, seed: int) -> dict[str, Any]:
    """What determines a Chewing-Gum dataset's bytes (dataset.json; a resumed run must match it)."""
    return {"generator": GENERATOR, "version": savos.__version__, "seed": seed, "config": config.to_dict(),
            "amodal_flow": bool(config.amodal_flow)}


def write_chewing_gum_dataset(config: ChewingGumConfig, out: str | Path, *, n: int, seed: int = 0,
                              val: int | None = None, test: int | None = None, workers: int | None = None,
                              shard: tuple[int, int] = (0, 1), shard_size: int = 100,
                              progress: bool = True) -> dict[str, Any] | None:
    """Write (or resume) a Chewing-Gum dataset (``savos-gen chewing-gum``); returns dataset.json's
    content, or None while other ``shard`` slices are missing."""

    return write_dataset(out, ClipMaker(config, seed), split_counts(n, val, test), description(config, seed),
                         shard_size=shard_size, workers=workers, shard=shard, progress=progress)
