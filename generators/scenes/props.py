"""Props: static occluders fixed in the world that a target slides along (rock, plant, kerb, a parked car).

A prop's shape is a strip in its own coordinates, x along it (0 .. length) and y across it, its edge at
about y = 0 facing the target and its body at y > 0: a rock has a bumpy rounded top, a plant a row of
leaves rising from a low bed, a kerb is a bar; a parked car is a car type (vehicles.py) seen from the
side. ``place_prop`` lays one along a target's path: its long axis along the path's overall direction,
on the side of the path that faces down the frame (+y; either side for a path that runs down), spanning
the whole path with a margin, its edge cutting off ``depth`` of the target's area at mid-clip (the
share of it farther across the path), so that strip of the target stays behind the prop all clip. The
engine then measures the never-seen share exactly (guarantee.py) and keeps the scene only if it is
in range.
"""

from __future__ import annotations

import numpy as np

from generators import portable
from generators.geometry import grid_points_inside
from generators.scenes import vehicles

EDGE_POINTS = 40  # nodes along a rock's or plant's edge


def rock(rng: np.random.Generator, length: float, height: float, jitter: float) -> np.ndarray:
    """A rock: a rounded top with a few low bumps, a flat underside; (N, 2)."""
    x = np.linspace(0.0, length, EDGE_POINTS)
    s = x / length
    dome = np.clip(1.0 - (2.0 * s - 1.0) ** 2, 0.0, 1.0)
    top = height * (1.0 - portable.power(dome, 0.15))  # rises steeply at the ends
    for _ in range(3):
        top += 0.12 * height * (0.5 + jitter) * np.sin(2.0 * np.pi * rng.uniform(1.0, 4.0) * s
                                                       + rng.uniform(0.0, 2.0 * np.pi)) * np.sin(np.pi * s)
    return np.concatenate([np.stack([x, np.minimum(top, 0.95 * height)], axis=-1),
                           [[length, height], [0.0, height]]])


def plant(rng: np.random.Generator, length: float, height: float, jitter: float) -> np.ndarray:
    """A plant bed: a bed ``height`` deep below y = 0 and leaves (narrow spikes) rising from it by up to
    half its depth; (N, 2)."""
    leaves = max(3, int(round(length / (0.35 * height))))
    x = np.linspace(0.0, length, 8 * leaves + 1)
    s = (x / length) * leaves
    rise = rng.uniform(0.5, 1.0, leaves + 1)
    tip = np.abs(np.mod(s, 1.0) - 0.5) * 2.0  # 1 at the leaves' bases, 0 at their tips
    leaf = rise[np.minimum(s.astype(np.intp), leaves)]
    top = -0.3 * height * leaf * portable.power(1.0 - tip, 1.0 + jitter)
    return np.concatenate([np.stack([x, top], axis=-1), [[length, height], [0.0, height]]])


def kerb(rng: np.random.Generator, length: float, height: float, jitter: float) -> np.ndarray:
    """A kerb: a straight bar; (4, 2)."""
    return np.array([[0.0, 0.0], [length, 0.0], [length, height], [0.0, height]])


def parked_car(rng: np.random.Generator, length: float, height: float, jitter: float,
               name: str = "car-sedan") -> np.ndarray:
    """A parked car of ``length`` seen from the side, its roof at about y = 0; (N, 2)."""
    car = vehicles.outline(vehicles.vary(vehicles.CARS[name], rng, jitter))  # x -1..1, y -roof..0
    car[:, 0] = (car[:, 0] + 1.0) * (length / 2.0)
    car[:, 1] = (car[:, 1] - car[:, 1].min()) * (length / 2.0)
    return car


def _frame(world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Along and across directions of a path of centres (T, 2): along its overall direction, across
    pointing down the frame."""
    step = world[-1] - world[0]
    along = step / np.hypot(*step) if np.hypot(*step) > 1e-6 else np.array([1.0, 0.0])
    across = np.array([-along[1], along[0]])
    return along, across if across[1] >= 0.0 else -across


def place_prop(rng: np.random.Generator, name: str, polygons: np.ndarray, depth: tuple[float, float],
               jitter: float) -> np.ndarray:
    """The world polygon (N, 2) of a prop of type ``name`` along the path of a target whose world polygons
    are ``polygons`` (T, N_k, 2) (module docstring). ``depth``: [min, max] share of the target's area that
    the prop's edge cuts off at mid-clip."""
    centres = (polygons.min(axis=1) + polygons.max(axis=1)) / 2.0  # (T, 2)
    along, across = _frame(centres)
    a = polygons @ along  # (T, N)
    q = polygons @ across
    mid = len(polygons) // 2
    height = q[mid].max() - q[mid].min()
    inside = grid_points_inside(polygons[mid], 0.5) @ across  # (P,) the target's area at mid-clip
    edge = float(np.quantile(inside, 1.0 - rng.uniform(*depth))) if len(inside) else float(q.max())
    margin = 0.15 * height
    start, length = a.min() - margin, a.max() - a.min() + 2.0 * margin
    thick = rng.uniform(0.4, 0.7) * height
    if name.startswith("car-"):
        own = parked_car(rng, length, thick, jitter, name)
    else:
        own = PROP_MAKERS[name](rng, length, thick, jitter)
    return start * along + own[:, :1] * along + (edge + own[:, 1:]) * across


PROP_MAKERS = {"rock": rock, "plant": plant, "kerb": kerb}
