"""Arms: thin radial spikes added to a star polygon (the ``arms`` options of ChewingGumConfig, and of a
scene's ``gum`` section).

Why: the default 7-12-gons are round enough that most of a hidden part can be guessed from one frame
(the convex hull of the visible part, or a circle fitted to its outline; see savos/data/guessability.py).
An arm sits at a random angle, independent of the rest of the shape: when an occluder covers it, nothing
visible in that frame says it is there, and only another frame, where it shows, can complete it.

An arm at angle a, of width w, reaching radius R: the body's outline is cut between the angles a +- beta
(beta = asin(w / 2 / rho), rho the body's radial extent at a) and four nodes are put in, two on the body's
outline at a +- beta and two at radius R at a +- asin(w / 2 / R): a spike with nearly parallel sides.
Every node keeps a distinct angle and they stay sorted, so the result is still a simple polygon,
star-shaped about the origin; the rasteriser, the coverage guarantee and the checks need nothing new.
"""

from __future__ import annotations

import math

import numpy as np

from generators import portable
from generators.geometry import radial_extent


def add_arms(rng: np.random.Generator, polygon: np.ndarray, radius: float, count: tuple[int, int],
             length: tuple[float, float], width: tuple[float, float]) -> np.ndarray:
    """A star polygon (N, 2) around the origin with arms added -> float64 (M, 2), nodes sorted by angle.

    count: (min, max) arms, inclusive; length: (min, max) reach beyond the node circle as a fraction of
    ``radius``; width: (min, max) in pixels. Arms are spread at stratified random angles (one per equal
    sector, in the middle 70 % of it); an arm whose span would overlap the previous one's is left out.
    """
    m = int(rng.integers(count[0], count[1] + 1))
    if m == 0:
        return polygon
    sector = 2.0 * math.pi / m
    centres = (np.arange(m) + rng.uniform(0.15, 0.85, m)) * sector + rng.uniform(0.0, 2.0 * math.pi)
    reach = radius * (1.0 + rng.uniform(*length, m))
    widths = rng.uniform(*width, m)
    rho = radial_extent(polygon, centres)  # (m,) the body's extent at each arm
    tip = np.maximum(reach, rho + 1.0)  # an arm always sticks out
    beta = portable.arcsin(np.minimum(widths / 2.0 / np.maximum(rho, 1e-9), 0.9))
    gamma = portable.arcsin(np.minimum(widths / 2.0 / tip, 0.9))
    nodes = portable.arctan2(polygon[:, 1], polygon[:, 0])
    keep = np.ones(len(polygon), bool)
    new_angles, new_radii = [], []
    last_end = -np.inf
    for a, b, g, r in zip(centres.tolist(), beta.tolist(), gamma.tolist(), tip.tolist(), strict=True):
        if a - b <= last_end + 0.05 or (a + b) - (centres[0] - beta[0]) >= 2.0 * math.pi - 0.05:
            continue  # overlaps the previous arm (or, going round, the first one)
        last_end = a + b
        keep &= np.abs((nodes - a + math.pi) % (2.0 * math.pi) - math.pi) > b  # cut the body there
        base = radial_extent(polygon, np.array([a - b, a + b]))
        new_angles += [a - b, a - g, a + g, a + b]
        new_radii += [base[0], r, r, base[1]]
    angles, radii = np.array(new_angles), np.array(new_radii)
    points = np.concatenate([polygon[keep], np.stack([radii * np.cos(angles), radii * np.sin(angles)], -1)])
    order = np.argsort(np.concatenate([nodes[keep], angles]) % (2.0 * math.pi), kind="stable")
    return points[order]  # the body's kept nodes unchanged, bit for bit
