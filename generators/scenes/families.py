"""Shape families: each draws one simple polygon (N, 2) in its own coordinates, centred on 0, whose
farthest node is about ``size`` from the centre. Curved families are dense polygons (the polygon is the
vector truth that is rasterised and recorded in meta).

gum: 7-12-node star polygons with radius jitter (Chewing Gum, paper §4); polygon: the same with nodes on
the circle (convex; the original code's shapes); ellipse; rounded-rect; star (5-8 points); crescent (a
disk minus an offset disk: strongly non-convex); lobes (a random smooth radial function with 2-5 lobes);
letter (block letters L T U C E F H Z); heart. Families are listed in ``FAMILY_MAKERS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from generators import portable
from generators.geometry import star_polygon

CURVE_POINTS = 32  # nodes of a closed curve (ellipse, lobes, heart); arcs get a share of them


def _circle(n: int, phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    a = phase + np.arange(n) * (2.0 * np.pi / n)
    return np.cos(a), np.sin(a)


def _centred(points: np.ndarray, size: float) -> np.ndarray:
    """Shift the bounding box's centre to 0 and scale so the farthest node is at ``size``."""
    points = points - (points.min(axis=0) + points.max(axis=0)) / 2.0
    return points * (size / np.hypot(points[:, 0], points[:, 1]).max())


def gum(rng: np.random.Generator, size: float, vertices: tuple[int, int], jitter: float) -> np.ndarray:
    return star_polygon(rng, int(rng.integers(vertices[0], vertices[1] + 1)), size, jitter)


def polygon(rng: np.random.Generator, size: float, vertices: tuple[int, int], jitter: float) -> np.ndarray:
    return star_polygon(rng, int(rng.integers(vertices[0], vertices[1] + 1)), size, 0.0)


def ellipse(rng: np.random.Generator, size: float, vertices: tuple[int, int], jitter: float) -> np.ndarray:
    c, s = _circle(CURVE_POINTS)
    return np.stack([size * c, size * rng.uniform(0.45, 0.95) * s], axis=-1)


def rounded_rect(rng: np.random.Generator, size: float, vertices: tuple[int, int],
                 jitter: float) -> np.ndarray:
    a, b = 1.0, rng.uniform(0.45, 1.0)  # half-sides
    r = rng.uniform(0.2, 0.6) * b  # corner radius
    pts = []
    for cx, cy, start in ((a - r, b - r, 0.0), (r - a, b - r, 0.5), (r - a, r - b, 1.0), (a - r, r - b, 1.5)):
        ang = (start + np.linspace(0.0, 0.5, 7)) * np.pi
        pts.append(np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], axis=-1))
    return _centred(np.concatenate(pts), size)


def star(rng: np.random.Generator, size: float, vertices: tuple[int, int], jitter: float) -> np.ndarray:
    n = int(rng.integers(5, 9))
    radii = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.4, 0.6))
    c, s = _circle(2 * n, rng.uniform(0.0, np.pi / n))
    return np.stack([size * radii * c, size * radii * s], axis=-1)


def crescent(rng: np.random.Generator, size: float, vertices: tuple[int, int], jitter: float) -> np.ndarray:
    """Unit disk minus the disk of radius r around (d, 0): the outer arc round the far side, then the
    inner arc back through the middle."""
    r, d = rng.uniform(0.7, 0.9), rng.uniform(0.35, 0.55)
    x = (1.0 - r * r + d * d) / (2.0 * d)  # the two circles meet at (x, +-y)
    y = math.sqrt(max(1.0 - x * x, 0.0))
    alpha, beta = math.atan2(y, x), math.atan2(y, x - d)
    outer = np.linspace(alpha, 2.0 * np.pi - alpha, CURVE_POINTS // 2)
    inner = np.linspace(2.0 * np.pi - beta, beta, CURVE_POINTS // 2)[1:-1]
    pts = np.concatenate([np.stack([np.cos(outer), np.sin(outer)], axis=-1),
                          np.stack([d + r * np.cos(inner), r * np.sin(inner)], axis=-1)])
    return _centred(pts, size)


def lobes(rng: np.random.Generator, size: float, vertices: tuple[int, int], jitter: float) -> np.ndarray:
    n = CURVE_POINTS + 8
    theta = np.arange(n) * (2.0 * np.pi / n)
    radius = np.ones(n)
    for _ in range(2):
        m = int(rng.integers(2, 6))
        radius += rng.uniform(0.15, 0.3) * np.cos(m * theta + rng.uniform(0.0, 2.0 * np.pi))
    return size * np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=-1) / radius.max()


# Block letters on a 3 x 5 grid of stroke-wide cells (x right, y down), simple polygons.
LETTERS = {
    "L": [(0, 0), (1, 0), (1, 4), (3, 4), (3, 5), (0, 5)],
    "T": [(0, 0), (3, 0), (3, 1), (2, 1), (2, 5), (1, 5), (1, 1), (0, 1)],
    "U": [(0, 0), (1, 0), (1, 4), (2, 4), (2, 0), (3, 0), (3, 5), (0, 5)],
    "C": [(0, 0), (3, 0), (3, 1), (1, 1), (1, 4), (3, 4), (3, 5), (0, 5)],
    "E": [(0, 0), (3, 0), (3, 1), (1, 1), (1, 2), (2, 2), (2, 3), (1, 3), (1, 4), (3, 4), (3, 5), (0, 5)],
    "F": [(0, 0), (3, 0), (3, 1), (1, 1), (1, 2), (2, 2), (2, 3), (1, 3), (1, 5), (0, 5)],
    "H": [(0, 0), (1, 0), (1, 2), (2, 2), (2, 0), (3, 0), (3, 5), (2, 5), (2, 3), (1, 3), (1, 5), (0, 5)],
    "Z": [(0, 0), (3, 0), (3, 1), (1.25, 4), (3, 4), (3, 5), (0, 5), (0, 4), (1.75, 1), (0, 1)],
}


def letter(rng: np.random.Generator, size: float, vertices: tuple[int, int], jitter: float) -> np.ndarray:
    pts = np.array(LETTERS[sorted(LETTERS)[int(rng.integers(0, len(LETTERS)))]], np.float64)
    pts[:, 0] *= rng.uniform(0.8, 1.3)  # a little wider or narrower
    return _centred(pts, size)


def heart(rng: np.random.Generator, size: float, vertices: tuple[int, int], jitter: float) -> np.ndarray:
    t = np.arange(CURVE_POINTS + 8) * (2.0 * np.pi / (CURVE_POINTS + 8))
    x = 16.0 * portable.power(np.sin(t), 3)
    y = -(13.0 * np.cos(t) - 5.0 * np.cos(2 * t) - 2.0 * np.cos(3 * t) - np.cos(4 * t))
    return _centred(np.stack([x * rng.uniform(0.85, 1.15), y], axis=-1), size)


Maker = Callable[[np.random.Generator, float, tuple[int, int], float], np.ndarray]
FAMILY_MAKERS: dict[str, Maker] = {
    "gum": gum, "polygon": polygon, "ellipse": ellipse, "rounded-rect": rounded_rect, "star": star,
    "crescent": crescent, "lobes": lobes, "letter": letter, "heart": heart,
}


def make_shape(rng: np.random.Generator, family: str, size: float, vertices: tuple[int, int],
               jitter: float) -> np.ndarray:
    """One polygon float64 (N, 2) of ``family`` (a key of ``FAMILY_MAKERS``), own coordinates."""
    return FAMILY_MAKERS[family](rng, float(size), vertices, float(jitter))


def rings(parts: list[np.ndarray]) -> np.ndarray:
    """Several rings (N_i, 2) as one vertex list for the inside rule: each ring is closed back to its
    first node, and a bridge joins each ring's first node to the first ring's (the hub). A bridge is
    walked once each way, so its two crossings cancel (the rule's crossing depends only on the edge's
    ends): the parity, hence the mask, is the XOR of the rings (disjoint rings: their union; a ring
    inside another: a hole)."""
    hub = parts[0][:1]
    out = [parts[0], hub]
    for p in parts[1:]:
        out += [p, p[:1], hub]  # out along a bridge from the hub, round the ring, back along it
    return np.concatenate(out)
