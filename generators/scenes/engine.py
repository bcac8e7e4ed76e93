"""The scene engine, the one clip pipeline of ``savos-gen scene`` and ``savos-gen chewing-gum`` (a preset:
generators/chewing_gum.py): sample a layout, render its exact masks, keep it only if every target meets
the occlusion range and the visibility guarantee, then draw colours and textures, paint, compute flows
and write meta (meta.py: the record format of the command).

Per clip, everything comes from ``np.random.default_rng([seed, index])``: layouts are drawn until one is
accepted (at most ``max_attempts``), then colours and textures. Objects are listed back to front (depth
rank = index). Vector truth: every object's polygon at every frame (layout.py, motion.py), rasterised by
the one inside rule (generators/geometry.py).

Clips are made in batches (``iter_clips``; the dataset writer asks for 25 at a time): every clip still
draws from its own generator in the same order, so the bytes are those of ``generate_clip``, but the
scenes of a batch are rendered and checked together, which shares numpy's per-call cost (it dominates a
64 x 64 clip). Colours, flows and meta are made clip by clip, when the clip is asked for, so that its
arrays are still in the CPU cache when it is encoded.

Real-video conditions (config ``flow`` / ``video_codec``, realvideo.py) are applied last, to the painted
frames and exact flows of a finished clip: masks, amodal flow and meta's vector truth are the same
bytes as the exact clip's of the same seed. The default (exact flow, no codec) never enters that path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from generators.geometry import rasterize
from generators.render import compose_visible, render_amodal, render_amodal_many
from generators.scenes import realvideo
from generators.scenes.appearance import STATIC_FAMILIES, paint_scene, sample_look
from generators.scenes.config import SceneConfig
from generators.scenes.flows import scene_flows
from generators.scenes.guarantee import accept_scenes
from generators.scenes.layout import Layout, Thing, sample_layout
from generators.scenes.meta import GENERATOR, Drawn, Record, SceneRecord
from generators.scenes.motion import polygons
from savos.data.clip import Clip, occlusion_rate
from savos.errors import SavosError

__all__ = ["GENERATOR", "ClipMaker", "generate_clip", "generate_clips", "iter_clips", "render_scene"]

BATCH_PIXELS = 5 * 2**20  # mask pixels (T x K x H x W) rendered together: 26 default clips, 3 at 128x128x32


def _fixed(things: list[Thing]) -> list[int]:
    """The static occluders that never move (a fence, square or border under a still camera)."""
    return [k for k, th in enumerate(things)
            if th.family in STATIC_FAMILIES and (th.maps == th.maps[:1]).all()]


def render_scene(things: list[Thing], vertices: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """``render_amodal(vertices, H, W)`` (bool (T, K, H, W)), the same masks: an object that never moves
    is rasterised once, and the moving ones together (the rasteriser's window is the largest object's
    extent, so a frame-sized fence or border would widen every window)."""
    T = vertices[0].shape[0]
    fixed = _fixed(things)
    moving = [k for k in range(len(things)) if k not in fixed]
    amodal = np.empty((T, len(things), height, width), bool)
    if moving:
        amodal[:, moving] = render_amodal([vertices[k] for k in moving], height, width)
    for k in fixed:
        amodal[:, k] = rasterize(vertices[k][:1], height, width)
    return amodal


def _render(layouts: list[Layout], vertices: list[list[np.ndarray]], H: int, W: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """S scenes of K objects each -> amodal bool (S, T, K, H, W) and visible uint8 (S, T, H, W)."""
    if any(_fixed(lay.things) for lay in layouts):
        amodal = np.stack([render_scene(lay.things, v, H, W)
                           for lay, v in zip(layouts, vertices, strict=True)])
    else:  # one rasterisation for all of them
        amodal = render_amodal_many(vertices, H, W)
    S, T, K = amodal.shape[:3]
    visible = compose_visible(amodal.reshape(S * T, K, H, W), list(range(K))).reshape(S, T, H, W)
    return amodal, visible


def generate_clip(config: SceneConfig, seed: int, index: int, split: str,
                  record: Record | None = None) -> Clip:
    """Clip ``index`` of a scene dataset with base seed ``seed``, its meta in ``record``'s format (default
    ``SceneRecord``); deterministic (same bytes for the same arguments). Raises SavosError if no layout
    is accepted within ``config.max_attempts``."""
    return next(iter_clips(config, seed, [index], split, record))


def generate_clips(config: SceneConfig, seed: int, indices: Sequence[int], split: str,
                   record: Record | None = None) -> list[Clip]:
    """``[generate_clip(config, seed, i, split, record) for i in indices]``, bit for bit, made together."""
    return list(iter_clips(config, seed, indices, split, record))


def iter_clips(config: SceneConfig, seed: int, indices: Sequence[int], split: str,
               record: Record | None = None) -> Iterator[Clip]:
    """``generate_clips`` one clip at a time: the scenes of a batch are drawn, rendered and checked first,
    then each clip is finished when it is asked for. Batches hold at most BATCH_PIXELS mask pixels, so
    memory stays flat at any clip size."""
    record = SceneRecord() if record is None else record
    for name, values in (("seed", [seed]), ("index", indices)):
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise SavosError(f"{record.generator}: {name} must be a non-negative integer, got {value!r}")
    cfg, st = config, config.static
    most = cfg.targets.count[1] + cfg.occluders.count[1] + (st.bars > 0) + (st.square > 0) + (st.border > 0)
    size = max(1, BATCH_PIXELS // (cfg.frame.frames * most * cfg.frame.height * cfg.frame.width))
    for start in range(0, len(indices), size):
        yield from _batch(cfg, record, seed, indices[start:start + size], split)


def _batch(cfg: SceneConfig, record: Record, seed: int, indices: Sequence[int], split: str) -> Iterator[Clip]:
    H, W = cfg.frame.height, cfg.frame.width
    rngs = [np.random.default_rng([int(seed), int(i)]) for i in indices]
    attempts = [0] * len(indices)
    drawn: list[Drawn | None] = [None] * len(indices)
    pending = list(range(len(indices)))
    while pending:  # one more layout for every clip without an accepted one
        layouts = []
        for c in pending:
            layout = None
            while layout is None and attempts[c] < cfg.max_attempts:
                attempts[c] += 1
                layout = sample_layout(rngs[c], cfg)  # None: the planner found no sweep
            if layout is None:
                _give_up(cfg, record, seed, indices[c])
            layouts.append(layout)
        vertices = [[polygons(th.canonical, th.maps, th.warps) for th in lay.things] for lay in layouts]
        groups: dict[tuple[int, int], list[int]] = {}  # scenes with as many objects and targets
        for i, lay in enumerate(layouts):
            key = (len(lay.things), sum(th.role == "target" for th in lay.things))
            groups.setdefault(key, []).append(i)
        left = []
        for (_, targets), group in groups.items():
            amodal, visible = _render([layouts[i] for i in group], [vertices[i] for i in group], H, W)
            records = accept_scenes(cfg.occlusion, [layouts[i].things for i in group],
                                    [vertices[i] for i in group], amodal, visible, targets)
            whole = all(r is not None for r in records)  # else copies: rejected scenes' masks are not kept
            for j, (i, rec) in enumerate(zip(group, records, strict=True)):
                c = pending[i]
                if rec is not None:
                    a, v = (amodal[j], visible[j]) if whole else (amodal[j].copy(), visible[j].copy())
                    drawn[c] = Drawn(layouts[i], vertices[i], a, v, rec, attempts[c])
                elif attempts[c] >= cfg.max_attempts:
                    _give_up(cfg, record, seed, indices[c])
                else:
                    left.append(c)
        pending = sorted(left)
    # Per clip from here: flows, colours and encoding touch ~2 MB per clip, which stays in the CPU
    # caches one clip at a time (a whole batch would not).
    for c, index in enumerate(indices):
        yield _finish(cfg, record, (seed, index, split), rngs[c], drawn[c])


def _finish(cfg: SceneConfig, record: Record, where: tuple[int, int, str], rng: np.random.Generator,
            drawn: Drawn) -> Clip:
    """The clip of an accepted scene: colours and textures (drawn last from the clip's generator),
    flows, meta and rgb."""
    things, layout = drawn.layout.things, drawn.layout
    look = sample_look(rng, cfg, things, record.generator)
    rigid = all(th.pose is not None for th in things)
    poses = np.stack([th.pose for th in things], axis=1) if rigid else None  # (T, K, 3)
    maps = None if rigid else np.stack([th.maps for th in things], axis=1)  # (T, K, 2, 3)
    flow_fwd, flow_bwd, aflow = scene_flows(maps, [th.warps for th in things], layout.camera, drawn.visible,
                                            drawn.amodal, poses=poses, with_amodal=cfg.amodal_flow)
    meta = record.meta(cfg, where, drawn, look, occlusion_rate(drawn.visible, drawn.amodal))
    rgb = paint_scene(layout, drawn.visible, look.background_texture, look.textures)
    if not realvideo.exact(cfg.flow, cfg.video_codec):  # real-video conditions: estimated flow, H.264
        rgb, flow_fwd, flow_bwd, estimated = realvideo.capture(cfg.flow, cfg.video_codec, rgb, flow_fwd,
                                                               flow_bwd)
        meta.update(estimated)
    aflow = aflow if cfg.amodal_flow else None
    return Clip(rgb, drawn.visible, drawn.amodal, flow_fwd, flow_bwd, aflow, meta)


def _give_up(cfg: SceneConfig, record: Record, seed: int, index: int) -> None:
    raise SavosError(f"{record.generator}: no scene met the occlusion range and the visibility guarantee in "
                     f"max_attempts={cfg.max_attempts} tries (seed {seed}, index {index}); raise "
                     f"max_attempts or relax {record.relax}")


@dataclass(frozen=True)
class ClipMaker:
    """The clips of one dataset, for ``write_dataset``: ``maker(index, split)`` is one clip and
    ``maker.many(indices, split)`` several, made together (faster); both ``generate_clip``'s bytes."""

    config: SceneConfig
    seed: int
    record: Record = field(default_factory=SceneRecord)
    # Its clips meet the Clip contract by construction (the tests validate them over every preset and
    # Chewing Gum's options), so the writer does not validate them again; every reader does.
    valid_by_construction: ClassVar[bool] = True

    def __call__(self, index: int, split: str) -> Clip:
        return generate_clip(self.config, self.seed, index, split, self.record)

    def many(self, indices: Sequence[int], split: str) -> Iterator[Clip]:
        return iter_clips(self.config, self.seed, indices, split, self.record)
