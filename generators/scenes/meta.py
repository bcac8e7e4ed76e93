"""What the engine hands to a clip's ``meta``: the accepted scene (``Drawn``), and the record formats that
turn it into meta. ``SceneRecord`` is the format of ``savos-gen scene``; Chewing Gum's (the format its
datasets have always had, checked by generators/verify_gum.py) is ``generators.chewing_gum.GumRecord``.

A record is any object with ``generator`` (meta's "generator", and the name in the engine's errors),
``relax`` (what to relax when no scene is accepted) and ``meta(config, where, drawn, look, rates)``.

``SceneRecord`` meta (JSON-exact), besides generator "scene", version, config (``SceneConfig.to_dict()``),
seed, split, index, attempts:
    background        [r, g, b] base colour; background_texture its texture record (appearance.py)
    camera            T x 2 x 3 world -> frame maps
    objects           K dicts, back to front: role, shape (family, or a type's kind), type (the object
                      type, types.py; only for objects drawn from one), color, depth, sweeps, size,
                      canonical (N x [x, y]), maps (T x 2 x 3 own -> frame t), warps ((T-1) x 6 or None,
                      motion.py), appearance (texture record), vertices (T x N x [x, y]: the polygon
                      rasterised at each frame), occlusion_rate (T floats); targets also coverage (the
                      fraction of shape samples seen in some frame), coverage_samples and, where the
                      config's occlusion.unseen is a range, never_seen (guarantee.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

import savos
from generators.scenes.appearance import Look
from generators.scenes.config import SceneConfig
from generators.scenes.layout import Layout

GENERATOR = "scene"


@dataclass
class Drawn:
    """One clip's accepted scene, before its colours and flows."""

    layout: Layout
    vertices: list[np.ndarray]  # K x float64 (T, N_k, 2): each object's polygon at every frame
    amodal: np.ndarray  # bool (T, K, H, W)
    visible: np.ndarray  # uint8 (T, H, W)
    coverage: dict  # target k -> {"coverage": float, "coverage_samples": int}
    attempts: int  # layouts drawn for this clip


class Record(Protocol):
    generator: str
    relax: str

    def meta(self, config: SceneConfig, where: tuple[int, int, str], drawn: Drawn, look: Look,
             rates: np.ndarray) -> dict: ...


def object_records(drawn: Drawn, look: Look, rates: np.ndarray,
                   own: Callable[[int, Any], dict]) -> list[dict]:
    """Meta of each object, back to front: the fields every generator records (role, color, depth,
    sweeps, canonical, vertices, occlusion_rate, and the targets' coverage) plus ``own(k, thing)``, the
    generator's own fields. ``rates``: float (T, K) occlusion rates."""
    objects = []
    for k, th in enumerate(drawn.layout.things):
        obj = {"role": th.role, "color": look.colors[k], "depth": k, "sweeps": th.sweeps,
               "canonical": th.canonical.tolist(), "vertices": drawn.vertices[k].tolist(),
               "occlusion_rate": rates[:, k].tolist(), **own(k, th)}
        obj.update(drawn.coverage.get(k, {}))
        objects.append(obj)
    return objects


@dataclass(frozen=True)
class SceneRecord:
    """The meta of ``savos-gen scene`` clips (module docstring). ``where``: (seed, index, split);
    ``rates``: float (T, K) occlusion rates."""

    generator: ClassVar[str] = GENERATOR
    relax: ClassVar[str] = "occlusion.rate / occlusion.frames / occlusion.unseen"

    def meta(self, config: SceneConfig, where: tuple[int, int, str], drawn: Drawn, look: Look,
             rates: np.ndarray) -> dict:
        seed, index, split = where
        objects = object_records(drawn, look, rates, lambda k, th: {
            "shape": th.family, **({} if th.type is None else {"type": th.type}), "size": float(th.size),
            "maps": th.maps.tolist(), "warps": None if th.warps is None else th.warps.tolist(),
            "appearance": look.textures[k]})
        return {"generator": GENERATOR, "version": savos.__version__, "config": config.to_dict(),
                "seed": int(seed), "split": str(split), "index": int(index), "background": look.background,
                "background_texture": look.background_texture, "camera": drawn.layout.camera.tolist(),
                "attempts": drawn.attempts, "objects": objects}
