"""The planner of layout ``gum`` (Chewing Gum, ``savos-gen chewing-gum``): random star polygons with
rigid motions that make the coverage guarantee the normal outcome rather than luck (paper §4: "The
occluded object never shows its full shape. But each part is shown in at least one frame.").

Objects are listed back to front (object k has depth rank k): the targets, then the occluders. Every
polygon moves rigidly: its centre on a smooth (quadratic) path, with a constant spin. Options off by
default: targets may get arms (arms.py), occluders a larger radius (``occluder_scale``); the planning
below uses the actual outlines, arms included.

Sweeps. Each object j >= 1 sweeps one target k behind it: target k+1 sweeps target k and the first
occluder sweeps the last target (a stack, like cards sliding over each other, all sliding along one
axis of the scene and stacked along the other axis); each further occluder sweeps a random target from
the other side, sliding the same way, with its path 0.5 radius farther out (it clips the target's edge;
scenes with several occluders are crowded and rejected more often). Relative to k, the sweeper j moves
on a straight line at a closest distance ``sweep_offset`` x their mean radius from k's centre. The
half-length h of that line is chosen from the actual shapes at the first and last frame:
- at most the largest h for which the two polygons still overlap along the line between their centres
  at both ends (so k has hidden pixels in the first and last frame, hence, the path being straight, in
  between), and
- at least so long that the sweeper's outlines at the first and at the last frame, seen in k's own
  (turning) coordinates, are apart (so what it hides of k at the first frame it shows at the last).
Links with no such h are redrawn a few times; a scene that stays infeasible is returned as None. The
rendered scene is still measured exactly afterwards (coverage.py): the design only makes rejection rare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generators import portable
from generators.geometry import apply_affine, pad_polygons, rigid_maps, star_polygon
from generators.scenes.arms import add_arms


@dataclass
class Scene:
    """K polygons with their rigid motion over T frames."""

    canonical: list[np.ndarray]  # K x float64 (N_k, 2): own coordinates, node circle centred on 0
    radius: np.ndarray  # float64 (K,): node circle radius
    pose: np.ndarray  # float64 (T, K, 3): centre x, centre y, angle (radians, +x towards +y)
    maps: np.ndarray  # float64 (T, K, 2, 3): own coordinates -> frame t
    vertices: list[np.ndarray]  # K x float64 (T, N_k, 2): the polygon at each frame
    sweeps: list[int | None]  # the target each object sweeps (None for object 0)


def _unit(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])  # scalars: math is faster


_STEPS = np.arange(41.0)[:, None]
_SIGNS = np.array([-1.0, 1.0])
_TURNS = 128  # resolution of the tabulated outlines used for planning (the check afterwards is exact)


_RAYS = np.arange(_TURNS) * (2.0 * np.pi / _TURNS)
_RAY_X, _RAY_Y = np.cos(_RAYS), np.sin(_RAYS)


def _outlines(shapes: list[np.ndarray]) -> np.ndarray:
    """float64 (K, _TURNS): each polygon's radial extent at angles 2 pi i / _TURNS, own coordinates.

    ``radial_extent(pad_polygons(shapes), _RAYS)``, bit for bit, laid out edge-first (N, K, A) so that
    the farthest crossing is an elementwise maximum over N rows, and the ray table computed once."""
    p = pad_polygons(shapes).transpose(1, 0, 2)[:, :, None, :]  # (N, K, 1, 2)
    e = np.concatenate([p[1:], p[:1]]) - p  # edge vectors
    vx, vy, ex, ey = p[..., 0], p[..., 1], e[..., 0], e[..., 1]
    cross = _RAY_X * ey - _RAY_Y * ex  # (N, K, A); 0 for parallel and zero-length edges
    with np.errstate(divide="ignore", invalid="ignore"):  # where cross == 0, s is not in [0, 1]
        t = (vx * ey - vy * ex) / cross  # distance along the ray
        s = (vx * _RAY_Y - vy * _RAY_X) / cross  # position along the edge
    return np.where((s >= 0.0) & (s <= 1.0) & (t > 0.0), t, 0.0).max(axis=0)


def _extent_at(outline: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return outline[np.round(angle * (_TURNS / (2.0 * np.pi))).astype(np.intp) % _TURNS]


def _penetration(rel0: np.ndarray, rel1: np.ndarray, outline_k: np.ndarray, ends_k: np.ndarray,
                 outline_j: np.ndarray, ends_j: np.ndarray) -> np.ndarray:
    """Overlap of polygons k and j along the line between their centres, the smaller of the two ends:
    rel0, rel1 (P, 2) = centre_j - centre_k at the first and last frame; ends_k, ends_j their angles."""
    P = len(rel0)
    rel = np.concatenate([rel0, rel1])  # both ends in one pass
    direction = portable.arctan2(rel[:, 1], rel[:, 0])
    turn_k, turn_j = np.repeat(ends_k, P), np.repeat(ends_j, P)
    pen = (_extent_at(outline_k, direction - turn_k) + _extent_at(outline_j, direction + np.pi - turn_j)
           - np.hypot(rel[:, 0], rel[:, 1]))
    return np.minimum(pen[:P], pen[P:])


def _turn(angle: float) -> np.ndarray:
    """(2, 2) matrix R such that ``points @ R`` turns row points by -angle (into a frame turned by angle)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _sweep(rng: np.random.Generator, outline_k: np.ndarray, outline_j: np.ndarray, shape_j: np.ndarray,
           ends_k: np.ndarray, ends_j: np.ndarray, along: np.ndarray, across: np.ndarray, mean_r: float,
           sweep_offset: tuple[float, float], tries: int = 4) -> tuple[np.ndarray, float] | None:
    """Mid-clip offset (2,) of j from k and the half-length h of its path (module docstring), or None.

    ends_k, ends_j: the two polygons' angles at the first and last frame. Separation of j's outlines at
    the two ends, in k's own coordinates, is tested along three axes: the path's direction at either end
    and the line between the two centres.
    """
    margin = 0.2 * mean_r
    h = _STEPS * (3.0 * mean_r / 40.0)  # (P, 1) candidate half-lengths: np.linspace(0, 3 r, 41), bit for bit
    h[-1] = 3.0 * mean_r
    into0, into1 = _turn(ends_k[0]), _turn(ends_k[1])  # world -> k's coordinates at the two ends
    v0 = shape_j @ _turn(ends_k[0] - ends_j[0])  # (N, 2) j's outline in k's coordinates, around its centre
    v1 = shape_j @ _turn(ends_k[1] - ends_j[1])
    axes = np.array([along @ into0, along @ into1])  # (2, 2) the path's direction, unit
    fixed_gap = (v1 @ axes.T).min(axis=0) - (v0 @ axes.T).max(axis=0)  # (2,)
    path = h * along
    for _ in range(tries):
        offset = rng.uniform(*sweep_offset) * mean_r * across + rng.uniform(-0.2, 0.2) * mean_r * along
        rel0, rel1 = offset - path, offset + path  # (P, 2) centre_j - centre_k at the two ends
        pen = _penetration(rel0, rel1, outline_k, ends_k, outline_j, ends_j)
        overlapping = np.logical_and.accumulate(pen >= margin)
        if not overlapping[0]:
            continue
        shift = rel1 @ into1 - rel0 @ into0  # (P, 2) from j's first centre to its last, k's coordinates
        dist = np.maximum(np.hypot(shift[:, 0], shift[:, 1]), 1e-12)
        unit = shift / dist[:, None]
        gap_path = shift @ axes.T + fixed_gap  # (P, 2)
        gap_line = dist + (v1 @ unit.T).min(axis=0) - (v0 @ unit.T).max(axis=0)  # (P,)
        apart = (gap_path[:, 0] > 0.5) | (gap_path[:, 1] > 0.5) | (gap_line > 0.5)  # half a pixel, some axis
        ok = np.flatnonzero(overlapping & apart)
        if len(ok):
            return offset, float(rng.uniform(h[ok[0], 0], h[ok[-1], 0]))
    return None


def sample_scene(rng: np.random.Generator, *, height: int, width: int, frames: int, num_targets: int,
                 num_occluders: int, vertices: tuple[int, int], radius: tuple[float, float],
                 radius_jitter: float, speed: tuple[float, float], rotation: tuple[float, float],
                 acceleration: float, sweep_offset: tuple[float, float], arms: tuple[int, int] = (0, 0),
                 arm_length: tuple[float, float] = (0.5, 1.0),
                 arm_width: tuple[float, float] = (2.0, 3.0), occluder_scale: float = 1.0) -> Scene | None:
    """Draw shapes and motions (module docstring); None if the sweeps were infeasible. Lengths in
    pixels, ``rotation`` in degrees per frame, ``speed`` in pixels per frame (see ChewingGumConfig)."""
    T, K = frames, num_targets + num_occluders
    counts = rng.integers(vertices[0], vertices[1] + 1, size=K)
    radii = rng.uniform(*radius, size=K)
    radii[num_targets:] *= occluder_scale
    canonical = [star_polygon(rng, counts[k], radii[k], radius_jitter) for k in range(K)]
    if arms[1] > 0:  # no draws at all without arms: default scenes keep their bytes
        canonical[:num_targets] = [add_arms(rng, c, radii[k], arms, arm_length, arm_width)
                                   for k, c in enumerate(canonical[:num_targets])]
    spin = np.deg2rad(rng.uniform(*rotation, size=K)) * _SIGNS[rng.integers(0, 2, size=K)]  # random sign
    angle = rng.uniform(0.0, 2.0 * np.pi, size=K) + spin * np.arange(T)[:, None]  # (T, K)

    outlines = _outlines(canonical)

    # Mid-clip offsets and velocities relative to object 0; each sweeper relative to what it sweeps.
    axis = rng.uniform(0.0, 2.0 * np.pi)
    along, across = _unit(axis), _unit(axis + np.pi / 2.0)
    pos, vel = np.zeros((K, 2)), np.zeros((K, 2))
    ends = angle[[0, -1]]  # (2, K) angles at the first and last frame
    sweeps: list[int | None] = [None]
    for j in range(1, K):
        if j <= num_targets:  # the stack
            k, side, offsets = j - 1, across, sweep_offset
        else:  # from the other side, farther out: it clips the target's edge
            k, side = int(rng.integers(0, num_targets)), -across
            offsets = (sweep_offset[0] + 0.5, sweep_offset[1] + 0.5)
        link = _sweep(rng, outlines[k], outlines[j], canonical[j], ends[:, k], ends[:, j], along, side,
                      (radii[k] + radii[j]) / 2.0, offsets)
        if link is None:
            return None
        offset, half = link
        pos[j] = pos[k] + offset
        vel[j] = vel[k] + 2.0 * half / max(T - 1, 1) * along
        sweeps.append(k)

    # The targets' centroid sits near the frame centre at mid-clip and drifts slowly; the common
    # acceleration bends every path alike, so relative motions stay straight.
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    centre += rng.uniform(-0.1, 0.1, 2) * [width, height]
    drift = _unit(rng.uniform(0.0, 2.0 * np.pi)) * rng.uniform(*speed)
    accel = _unit(rng.uniform(0.0, 2.0 * np.pi)) * rng.uniform(0.0, acceleration)
    pos += centre - pos[:num_targets].mean(axis=0)
    vel += drift - vel[:num_targets].mean(axis=0)
    s = np.arange(T, dtype=np.float64) - (T - 1) / 2.0  # time from mid-clip, frames
    centres = pos + vel * s[:, None, None] + 0.5 * accel * (s**2)[:, None, None]  # (T, K, 2)

    pose = np.concatenate([centres, angle[..., None]], axis=-1)
    maps = rigid_maps(centres[..., 0], centres[..., 1], angle)  # (T, K, 2, 3)
    polygons = [apply_affine(maps[:, k], canonical[k]) for k in range(K)]
    return Scene(canonical, radii, pose, maps, polygons, sweeps)
