"""Planning one sweep: object j slides across object k on a straight line (relative to k) so that it
overlaps k at the first and the last frame and, between them, moves farther than its own width along
the line (so what it hides of k at the start it shows at the end). The same rule as the Chewing-Gum
planner (generators/scenes/gum_planner.py), for any family: overlap is measured along the line between the two
centres with each shape's radial extent (``radial_extent``: the farthest boundary crossing, so for
shapes that are not star-shaped it is an estimate; the rendered scene is measured exactly afterwards).
"""

from __future__ import annotations

import math

import numpy as np

from generators import portable
from generators.geometry import radial_extent

TURNS = 128  # resolution of the tabulated outlines
_RAYS = np.arange(TURNS) * (2.0 * np.pi / TURNS)
_STEPS = np.linspace(0.0, 1.0, 41)


def outline(shape: np.ndarray) -> np.ndarray:
    """float64 (TURNS,): the shape's (N, 2) radial extent at angles 2 pi i / TURNS, own coordinates."""
    return radial_extent(shape, _RAYS)


def _extent(table: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return table[np.round(angle * (TURNS / (2.0 * np.pi))).astype(np.intp) % TURNS]


def _turned(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def plan_sweep(rng: np.random.Generator, shape_k: np.ndarray, shape_j: np.ndarray, ends_k: np.ndarray,
               ends_j: np.ndarray, along: np.ndarray, across: np.ndarray, mean: float,
               offsets: tuple[float, float], depth: float, tries: int = 4, travel: bool = False,
               reveal: bool = True) -> tuple[np.ndarray, float] | None:
    """Mid-clip offset (2,) of j's centre from k's and the half-length h of j's path along ``along``,
    or None if no draw of ``tries`` works. ``travel``: j travels with k (h = 0), so the offset need only
    overlap k at both ends. ``reveal=False`` (scenes that want never-seen parts) keeps the rule that what
    j hides at the start it shows at the end where some path can, and else takes the longest path that
    overlaps k at both ends.

    ends_k, ends_j: (2,) the angles of k and j at the first and last frame; mean: their mean size;
    offsets: closest approach of the path to k's centre, in units of mean; depth: the least overlap
    at both ends, in units of mean.
    """
    table_k, table_j = outline(shape_k), outline(shape_j)
    # j's outline seen in k's coordinates at both ends: how far j must move to be clear of where it was
    v0, v1 = _turned(shape_j, ends_j[0] - ends_k[0]), _turned(shape_j, ends_j[1] - ends_k[1])
    h = _STEPS[:, None] * 3.0 * mean  # (P, 1) candidate half-lengths
    for _ in range(tries):
        offset = rng.uniform(*offsets) * mean * across + rng.uniform(-0.2, 0.2) * mean * along
        ok = np.ones(len(h), bool)
        rels = []
        for sign, turn_k, turn_j in ((-1.0, ends_k[0], ends_j[0]), (1.0, ends_k[1], ends_j[1])):
            rel = offset + sign * h * along  # (P, 2) centre_j - centre_k at this end
            direction = portable.arctan2(rel[:, 1], rel[:, 0])
            overlap = (_extent(table_k, direction - turn_k) + _extent(table_j, direction + np.pi - turn_j)
                       - np.hypot(rel[:, 0], rel[:, 1]))
            ok &= overlap >= depth * mean
            rels.append(rel)
        ok = np.logical_and.accumulate(ok)  # overlapping for every h up to the largest
        if not ok[0]:
            continue
        if travel:
            return offset, 0.0
        # in k's coordinates, j's centre moves by shift; its outlines at the two ends must be apart
        shift = _turned(rels[1], -ends_k[1]) - _turned(rels[0], -ends_k[0])  # (P, 2)
        dist = np.maximum(np.hypot(shift[:, 0], shift[:, 1]), 1e-12)
        unit = shift / dist[:, None]
        gap = dist + (v1 @ unit.T).min(axis=0) - (v0 @ unit.T).max(axis=0)
        good = np.flatnonzero(ok & (gap > 0.5))
        if len(good):
            return offset, float(rng.uniform(h[good[0], 0], h[good[-1], 0]))
        if not reveal:  # no path shows all it hid: the longest that still overlaps at both ends
            return offset, float(h[np.flatnonzero(ok)[-1], 0])
    return None
