"""Object types: a fixed template shape with per-instance variation, drawn like a family (a group's
``families`` names them) and recorded in meta as the object's ``type``.

A type has a kind (meta ``shape``: "fish", "car", "rock", "plant", "kerb") and a template (fish.py,
vehicles.py, props.py). An instance is the template varied by the group's ``jitter`` (proportions: fins,
tail, roof, wheels; a share), scaled so that its farthest node is ``size`` from its centre, like every
family. Fish have an articulation: the tail beat (``tail_beat``), a non-rigid motion of the kind
motion.py moves exactly, so flows and amodal flow stay exact.

Tail beat: in the fish's own coordinates (nose at +x), the beat bends the body sideways by
c_t sin(k (x - x_r)), a y-shear by a function of x (a bijection of the plane: a simple outline stays
simple), where x_r lies a quarter of the way back from the nose and k makes the sine reach -1 at the tail's
end; c_t = A sin(2 pi t / P + phi). Frame 0's bend is in the canonical shape; each step is the warp
(0, 0, 0, c_{t+1} - c_t, k, -k x_r) of motion.py (only its y-shear), so the shape at t is the template
bent by exactly c_t.
"""

from __future__ import annotations

import math

import numpy as np

from generators.scenes import fish, props, vehicles
from generators.scenes.motion import warp

FISH_TYPES = tuple(sorted(fish.FISH))
CAR_TYPES = tuple(sorted(vehicles.CARS))
PROP_TYPES = ("rock", "plant", "kerb", *CAR_TYPES)  # the types a static prop may take
TYPE_NAMES = (*FISH_TYPES, *CAR_TYPES, "rock", "plant", "kerb")


def kind(name: str) -> str:
    """A type's kind, meta ``shape``: "fish", "car", "rock", "plant" or "kerb"."""
    return name.split("-", 1)[0]


def has_tail(name: str) -> bool:
    return name in fish.FISH


def _centred(points: np.ndarray, size: float) -> np.ndarray:
    """Bounding box centred on 0, farthest node at ``size`` (as families.py)."""
    points = points - (points.min(axis=0) + points.max(axis=0)) / 2.0
    return points * (size / np.hypot(points[:, 0], points[:, 1]).max())


def make_type(rng: np.random.Generator, name: str, size: float, jitter: float) -> np.ndarray:
    """One instance float64 (N, 2) of type ``name`` (a key of TYPE_NAMES), own coordinates."""
    if name in fish.FISH:
        points = fish.outline(fish.vary(fish.FISH[name], rng, jitter))
    elif name in vehicles.CARS:
        points = vehicles.outline(vehicles.vary(vehicles.CARS[name], rng, jitter))
    else:  # a prop as an object of its own: about twice (a kerb: six times) as long as high
        aspect = 1.0 + 0.5 * jitter * rng.uniform(-1.0, 1.0)
        points = props.PROP_MAKERS[name](rng, 2.0, (0.6 if name != "kerb" else 0.3) * aspect, jitter)
    return _centred(points, size)


def tail_beat(rng: np.random.Generator, shape: np.ndarray, frames: int, amplitude: float,
              period: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A fish's tail beat (module docstring): shape (N, 2) nose at +x, amplitude in px, period [min, max]
    frames -> (canonical (N, 2): frame 0's bent shape, warps (T-1, 6))."""
    nose, end = float(shape[:, 0].max()), float(shape[:, 0].min())
    ref = nose - (nose - end) / 4.0
    k = 0.5 * math.pi / (ref - end)
    omega = 2.0 * math.pi / rng.uniform(*period)
    phase = rng.uniform(0.0, 2.0 * math.pi)
    c = amplitude * np.sin(omega * np.arange(frames) + phase)  # (T,) the bend at each frame
    warps = np.zeros((frames - 1, 6))
    warps[:, 3], warps[:, 4], warps[:, 5] = np.diff(c), k, -k * ref
    first = np.array([0.0, 0.0, 0.0, c[0], k, -k * ref])
    x, y = warp(first, shape[:, 0], shape[:, 1])
    return np.stack([x, y], axis=-1), warps
