"""Side-view car silhouettes (template types, types.py): body, cabin and the wheels below the sills, one
simple polygon.

A car faces +x in its own coordinates and runs from x = -1 (rear) to 1 (front); y points down, as in
the frame, with the ground at y = 0 (the wheels' bottoms) and the roof at y = -roof. The upper outline
(bumpers, bonnet, windscreen, roof, rear window, boot) is a list of nodes from the front to the rear,
a function of x; the lower outline is the sill at y = -sill broken by the lower arcs of the two wheels.
Per instance, ``jitter`` varies the roof height, the wheel size and the cabin's length by up to that
share.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from generators import portable

WHEEL_POINTS = 9  # nodes of each wheel's lower arc


@dataclass(frozen=True)
class Car:
    """A car template; lengths in units of the car's half-length."""

    upper: tuple[tuple[float, float], ...]  # (x, height above the ground) from the front to the rear
    wheels: tuple[float, float]  # x of the front and the rear wheel's centre
    wheel: float  # wheel radius
    sill: float  # height of the body's underside


CARS: dict[str, Car] = {
    "car-sedan": Car(((1.0, 0.16), (0.97, 0.38), (0.45, 0.44), (0.18, 0.74), (-0.38, 0.76), (-0.68, 0.48),
                      (-0.98, 0.45), (-1.0, 0.18)), (0.62, -0.6), 0.2, 0.1),
    "car-hatchback": Car(((1.0, 0.18), (0.96, 0.42), (0.5, 0.48), (0.2, 0.8), (-0.62, 0.8), (-0.94, 0.62),
                          (-1.0, 0.2)), (0.6, -0.62), 0.21, 0.11),
    "car-van": Car(((1.0, 0.2), (0.97, 0.5), (0.7, 0.58), (0.48, 0.98), (0.3, 1.02), (-0.98, 1.02),
                    (-1.0, 0.2)), (0.64, -0.66), 0.2, 0.12),
}


def vary(car: Car, rng: np.random.Generator, jitter: float) -> Car:
    """One instance of a template: roof height, wheel size and cabin length varied by up to ``jitter``."""
    roof = 1.0 + 0.5 * jitter * rng.uniform(-1.0, 1.0)
    cabin = 1.0 + 0.3 * jitter * rng.uniform(-1.0, 1.0)
    upper = tuple((x * cabin if 0 < i < len(car.upper) - 1 and abs(x) < 0.9 else x,
                   car.sill + (h - car.sill) * roof if h > 0.45 else h) for i, (x, h) in enumerate(car.upper))
    wheel = car.wheel * (1.0 + 0.4 * jitter * rng.uniform(-1.0, 1.0))
    return replace(car, upper=upper, wheel=min(wheel, 0.3))


def outline(car: Car) -> np.ndarray:
    """float64 (N, 2): the car's silhouette, a simple polygon: the upper outline front to rear, then the
    underside rear to front with each wheel's lower arc (where the wheel's circle is below the sill)."""
    upper = np.array([(x, -h) for x, h in car.upper])
    r, sill = car.wheel, car.sill
    half = portable.arcsin(np.clip((r - sill) / r, -1.0, 1.0))  # the circle meets the sill at pi/2 +- ...
    lower = []
    for cx in sorted(car.wheels):  # rear wheel first: the underside runs rear to front
        a = np.linspace(np.pi / 2 + (np.pi / 2 - half), np.pi / 2 - (np.pi / 2 - half), WHEEL_POINTS)
        lower += [np.stack([cx + r * np.cos(a), -r + r * np.sin(a)], axis=-1)]
    return np.concatenate([upper, *lower])
