"""Layouts: which objects a scene has, where they are and how they move (before rendering).

Objects are listed back to front: the targets, the moving occluders, then the static occluders (fence,
square, border). Time s runs from the middle of the clip (s = t - (T - 1) / 2).

- ``gum``: the Chewing-Gum sweep planner (generators/scene.py), as ``savos-gen chewing-gum`` uses it.
- ``sweep``: the same pattern for any family and motion: target i + 1 slides across target i (a stack
  of cards), the first occluder across the last target, each further occluder across a random target
  from the other side (0.5 mean sizes farther out). Each slide is planned from the two shapes
  (sweeps.py): its path passes at ``sweep_offset`` x the pair's mean size from the centre of the one
  it crosses, overlaps it at both ends (by at least max(0.2, 2 x the least occlusion rate) mean sizes)
  and is long enough that what it hides at the start it shows at the end. The rendered scene is then
  measured exactly and rejected if it misses the occlusion range or the guarantee.
- ``path``: one target travelling on a square path around the frame centre at ``targets.motion.speed``
  (the original code's geometry); occluders sweep it as above.
- ``row``: the targets, then the occluders, stand in a row (parked cars), each in front of the one before
  it and covering ``row.overlap`` of its length, so that end is never seen; the row drifts with the
  targets' speed (0: parked) and the camera pans and zooms over it.

With ``occlusion.travel`` a sweeping object may instead travel with the object it crosses for the whole
clip, at the planned mid-clip offset (the same part of it hidden throughout). With ``static.props`` a
target gets a prop (props.py) along its path, fixed in the world, which it slides along.

The targets' group drifts and accelerates together; with ``boundary: bounce`` the group's common path is
folded (reflected) into the frame. Every object spins, scales, shears and wobbles as its group's motion
says. The camera maps world to frame: p -> z_t (p - o - u s) + o (o = frame centre, u the pan velocity,
z_t = exp(zoom s)); world objects are seen through it, the border is fixed to the screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generators import portable
from generators.geometry import apply_affine, compose_affine, invert_affine
from generators.scenes import types
from generators.scenes.config import FAMILIES, GroupConfig, MotionConfig, SceneConfig
from generators.scenes.families import make_shape, rings
from generators.scenes.gum_planner import sample_scene
from generators.scenes.motion import affine_maps, polygons, sample_warps
from generators.scenes.props import place_prop
from generators.scenes.sweeps import plan_sweep


@dataclass
class Thing:
    """One object of a scene: its polygon in own coordinates and its maps to every frame."""

    role: str  # "target" or "occluder"
    family: str
    canonical: np.ndarray  # float64 (N, 2)
    maps: np.ndarray  # float64 (T, 2, 3) own -> frame t (camera included)
    warps: np.ndarray | None  # float64 (T-1, 6) non-rigid warp parameters, None = rigid/affine
    size: float  # radius of the shape's circle (texture scale)
    sweeps: int | None = None  # the object it slides across
    pose: np.ndarray | None = None  # float64 (T, 3) centre x, y and angle in the frame, where the motion
    # is known to be rigid (layout gum, still camera): flows are then computed from it analytically
    type: str | None = None  # the object type (types.py) it was drawn from; None for a family


@dataclass
class Shape:
    """One drawn shape before it is placed: family (or a type's kind), size, own polygon (N, 2), the type
    it was drawn from and, for a tail beat, its warps (T-1, 6)."""

    family: str
    size: float
    polygon: np.ndarray
    type: str | None = None
    beat: np.ndarray | None = None


@dataclass
class Layout:
    things: list[Thing]  # back to front
    camera: np.ndarray  # float64 (T, 2, 3) world -> frame


def _unit(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def _count(rng: np.random.Generator, pair: tuple[int, int]) -> int:
    return pair[0] if pair[0] == pair[1] else int(rng.integers(pair[0], pair[1] + 1))


def _camera(rng: np.random.Generator, cfg: SceneConfig, s: np.ndarray) -> np.ndarray:
    H, W = cfg.frame.height, cfg.frame.width
    o = np.array([(W - 1) / 2.0, (H - 1) / 2.0])
    cam = np.zeros((len(s), 2, 3))
    cam[:, 0, 0] = cam[:, 1, 1] = 1.0
    if cfg.camera.pan[1] == 0.0 and cfg.camera.zoom[1] == 0.0:
        return cam  # no draws: a still camera is exactly the identity
    u = _unit(rng.uniform(0.0, 2.0 * np.pi)) * rng.uniform(*cfg.camera.pan)
    z = portable.exp(rng.choice([-1.0, 1.0]) * rng.uniform(*cfg.camera.zoom) * s)
    cam[:, 0, 0] = cam[:, 1, 1] = z
    cam[:, :, 2] = o - z[:, None] * (o + u * s[:, None])
    return cam


def _direction(rng: np.random.Generator, m: MotionConfig) -> np.ndarray:
    """Unit direction of the targets' drift: at random, or within ``m.direction`` (degrees) either way."""
    if m.direction == (0.0, 360.0):
        return _unit(rng.uniform(0.0, 2.0 * np.pi))
    return _unit(np.deg2rad(rng.uniform(*m.direction))) * rng.choice([-1.0, 1.0])


def _fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect x into [lo, hi] (a bounce off both walls)."""
    span = max(hi - lo, 1e-9)
    y = np.mod(x - lo, 2.0 * span)
    return lo + np.where(y > span, 2.0 * span - y, y)


def _spin(rng: np.random.Generator, group: GroupConfig) -> tuple[float, float]:
    """Angle at mid-clip (upright: a tilt of at most 10 degrees) and spin (radians per frame, random
    sign)."""
    angle = np.deg2rad(rng.uniform(-10.0, 10.0)) if group.upright else rng.uniform(0.0, 2.0 * np.pi)
    return angle, rng.choice([-1.0, 1.0]) * np.deg2rad(rng.uniform(*group.motion.rotation))


def _motion_maps(rng: np.random.Generator, group: GroupConfig, centres: np.ndarray, angle: np.ndarray,
                 s: np.ndarray, shape: Shape, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Own -> frame maps (T, 2, 3) and warps for one object with centres (T, 2) in world coordinates
    and angles (T,); a tail beat is the object's warps."""
    m, size = group.motion, shape.size
    sign = lambda: rng.choice([-1.0, 1.0])  # noqa: E731
    scale = portable.exp(sign() * rng.uniform(*m.scaling) * s) if m.scaling[1] > 0 else np.ones_like(s)
    shear = sign() * rng.uniform(*m.shear) * s if m.shear[1] > 0 else np.zeros_like(s)
    aspect = sign() * rng.uniform(*m.shear) * s if m.shear[1] > 0 else np.zeros_like(s)
    maps = compose_affine(camera, affine_maps(centres, angle, scale, aspect, shear))
    warps = sample_warps(rng, len(s), rng.uniform(*m.nonrigid), size) if m.nonrigid[1] > 0 else shape.beat
    return maps, warps


def _shapes(rng: np.random.Generator, group: GroupConfig, n: int, frames: int) -> list[Shape]:
    out = []
    for _ in range(n):
        family = group.families[int(rng.integers(0, len(group.families)))]
        size = rng.uniform(*group.size)
        if family in FAMILIES:
            out.append(Shape(family, size, make_shape(rng, family, size, group.vertices, group.jitter)))
            continue
        shape = Shape(types.kind(family), size, types.make_type(rng, family, size, group.jitter), family)
        m = group.motion
        if types.has_tail(family) and m.tail[1] > 0:
            shape.polygon, shape.beat = types.tail_beat(rng, shape.polygon, frames,
                                                        rng.uniform(*m.tail) * size, m.tail_period)
        out.append(shape)
    return out


def _mirror(shape: Shape) -> None:
    """Make the shape its mirror image (x -> -x in its own coordinates), tail beat included."""
    shape.polygon = shape.polygon * [-1.0, 1.0]
    if shape.beat is not None:
        shape.beat = shape.beat * [1.0, 1.0, 1.0, 1.0, -1.0, 1.0]  # sin(k x + p) of -x


def _gum(rng: np.random.Generator, cfg: SceneConfig, camera: np.ndarray) -> list[Thing] | None:
    t, o, g = cfg.targets, cfg.occluders, cfg.gum
    scene = sample_scene(rng, height=cfg.frame.height, width=cfg.frame.width, frames=cfg.frame.frames,
                         num_targets=t.count[0], num_occluders=o.count[0], vertices=t.vertices, radius=t.size,
                         radius_jitter=t.jitter, speed=t.motion.speed, rotation=t.motion.rotation,
                         acceleration=t.motion.acceleration, sweep_offset=cfg.occlusion.sweep_offset,
                         arms=g.arms, arm_length=g.arm_length, arm_width=g.arm_width,
                         occluder_scale=g.occluder_scale)
    if scene is None:
        return None
    fixed = cfg.camera.pan[1] == 0.0 and cfg.camera.zoom[1] == 0.0  # the camera is the identity
    return [Thing("target" if k < t.count[0] else "occluder", "gum", scene.canonical[k],
                  scene.maps[:, k] if fixed else compose_affine(camera, scene.maps[:, k]), None,
                  float(scene.radius[k]), scene.sweeps[k], scene.pose[:, k] if fixed else None)
            for k in range(len(scene.canonical))]


def _sweeps(rng: np.random.Generator, cfg: SceneConfig, camera: np.ndarray, s: np.ndarray
            ) -> list[Thing] | None:
    H, W, T = cfg.frame.height, cfg.frame.width, cfg.frame.frames
    n_t = _count(rng, cfg.targets.count)
    n_o = _count(rng, cfg.occluders.count)
    groups = [cfg.targets] * n_t + [cfg.occluders] * n_o
    shapes = _shapes(rng, cfg.targets, n_t, T) + _shapes(rng, cfg.occluders, n_o, T)
    K = n_t + n_o
    spins = [_spin(rng, g) for g in groups]
    angles = [a + w * s for a, w in spins]  # (T,) each
    along = _unit(rng.uniform(0.0, 2.0 * np.pi))
    across = np.array([-along[1], along[0]])
    pos, vel = np.zeros((K, 2)), np.zeros((K, 2))
    sweeps: list[int | None] = [None] * K
    path = cfg.layout == "path"
    lo, hi = cfg.occlusion.sweep_offset
    depth = max(0.2, 2.0 * cfg.occlusion.rate[0])  # least overlap at the ends, in mean sizes
    reveal = isinstance(cfg.occlusion.unseen, float)  # a range [min, max] asks for never-seen parts
    for j in range(1, K):
        if j <= n_t and not path:
            k, side, extra = j - 1, across, 0.0
        else:
            k, side = int(rng.integers(0, n_t)), (across if j == n_t else -across)
            extra = 0.0 if j == n_t else 0.5
        mean = (shapes[k].size + shapes[j].size) / 2.0
        travel = cfg.occlusion.travel > 0 and rng.random() < cfg.occlusion.travel  # no draw when 0
        offsets = cfg.occlusion.travel_offset if travel else (lo + extra, hi + extra)
        link = plan_sweep(rng, shapes[k].polygon, shapes[j].polygon, angles[k][[0, -1]], angles[j][[0, -1]],
                          along, side, mean, offsets, depth, travel=travel, reveal=reveal)
        if link is None:
            return None
        pos[j] = pos[k] + link[0]
        vel[j] = vel[k] + 2.0 * link[1] / max(T - 1, 1) * along
        sweeps[j] = k
    m = cfg.targets.motion
    centre = np.array([(W - 1) / 2.0, (H - 1) / 2.0])
    if path:  # target 0 on a square path of side ~ its size around the centre, the others relative to it
        side = shapes[0].size
        d = rng.uniform(0.0, 4.0 * side) + rng.choice([-1.0, 1.0]) * rng.uniform(*m.speed) * (s - s[0])
        d = np.mod(d, 4.0 * side)
        leg, f = np.floor(d / side).astype(int), np.mod(d, side) / side - 0.5
        corner = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
        step = np.roll(corner, -1, axis=0) - corner
        common = centre + side * (corner[leg] + (f + 0.5)[:, None] * step[leg])
        rel = (pos - pos[0]) + (vel - vel[0]) * s[:, None, None]  # (T, K, 2)
    else:
        drift = _direction(rng, m) * rng.uniform(*m.speed)
        accel = _unit(rng.uniform(0.0, 2.0 * np.pi)) * rng.uniform(0.0, m.acceleration)
        start = centre + rng.uniform(-0.1, 0.1, 2) * [W, H]
        common = start + drift * s[:, None] + 0.5 * accel * (s**2)[:, None]  # (T, 2) the targets' centroid
        if m.boundary == "bounce":
            margin = np.mean([sh.size for sh in shapes[:n_t]])
            common = np.stack([_fold(common[:, 0], margin, W - 1 - margin),
                               _fold(common[:, 1], margin, H - 1 - margin)], axis=-1)
        mean_pos, mean_vel = pos[:n_t].mean(axis=0), vel[:n_t].mean(axis=0)
        rel = (pos - mean_pos) + (vel - mean_vel) * s[:, None, None]
    return _things(rng, shapes, groups, n_t, [common + rel[:, k] for k in range(K)], angles, s, camera,
                   sweeps)


def _things(rng: np.random.Generator, shapes: list[Shape], groups: list[GroupConfig], n_t: int,
            centres: list[np.ndarray], angles: list[np.ndarray], s: np.ndarray, camera: np.ndarray,
            sweeps: list[int | None]) -> list[Thing]:
    """The placed objects: world centres (T, 2) and angles (T,) each, the first n_t the targets."""
    things = []
    for k, (shape, group) in enumerate(zip(shapes, groups, strict=True)):
        step = centres[k][-1] - centres[k][0]
        if group.upright and step @ [math.cos(angles[k][0]), math.sin(angles[k][0])] < 0.0:
            _mirror(shape)  # an upright object faces the way it goes
        maps, warps = _motion_maps(rng, group, centres[k], angles[k], s, shape, camera)
        things.append(Thing("target" if k < n_t else "occluder", shape.family, shape.polygon, maps, warps,
                            shape.size, sweeps[k], type=shape.type))
    return things


def _row(rng: np.random.Generator, cfg: SceneConfig, camera: np.ndarray, s: np.ndarray) -> list[Thing]:
    """Layout row (module docstring): the targets, then the occluders, side by side along the row's
    direction, each object's rear end under the front end of the one after it."""
    H, W, T, row = cfg.frame.height, cfg.frame.width, cfg.frame.frames, cfg.row
    n_t, n_o = _count(rng, cfg.targets.count), _count(rng, cfg.occluders.count)
    groups = [cfg.targets] * n_t + [cfg.occluders] * n_o
    shapes = _shapes(rng, cfg.targets, n_t, T) + _shapes(rng, cfg.occluders, n_o, T)
    angle = np.deg2rad(rng.uniform(*row.angle))
    along = _unit(angle)
    across = np.array([-along[1], along[0]])
    at, pos = 0.0, []
    for j, shape in enumerate(shapes):
        if row.flip > 0 and rng.random() < row.flip:
            _mirror(shape)
        x = shape.polygon[:, 0]
        if j:  # the rear end (min x) under the front of the one before, by overlap x its length
            before = shapes[j - 1].polygon[:, 0]
            at += before.max() - x.min() - rng.uniform(*row.overlap) * (before.max() - before.min())
        pos.append(at * along + rng.uniform(-row.jitter, row.jitter) * shape.size * across)
    pos = np.array(pos) - np.mean(pos, axis=0) + np.array([(W - 1) / 2.0, (H - 1) / 2.0])
    pos += rng.uniform(-0.1, 0.1, 2) * [W, H]
    m = cfg.targets.motion
    drift = _direction(rng, m) * rng.uniform(*m.speed)
    spins = [rng.choice([-1.0, 1.0]) * np.deg2rad(rng.uniform(*g.motion.rotation)) for g in groups]
    centres = [p + drift * s[:, None] for p in pos]
    return _things(rng, shapes, groups, n_t, centres, [angle + w * s for w in spins], s, camera,
                   [None] + list(range(len(shapes) - 1)))


def _props(rng: np.random.Generator, cfg: SceneConfig, things: list[Thing], camera: np.ndarray
           ) -> list[Thing]:
    """A prop along each target's path with probability ``static.props`` (props.py), fixed in the world."""
    st = cfg.static
    if st.props <= 0:
        return []
    to_world = invert_affine(camera)  # (T, 2, 3) frame -> world
    out = []
    for k, th in enumerate(things):
        if th.role != "target" or rng.random() >= st.props:
            continue
        name = st.prop_types[int(rng.integers(0, len(st.prop_types)))]
        world = apply_affine(to_world, polygons(th.canonical, th.maps, th.warps))  # (T, N, 2)
        prop = place_prop(rng, name, world, st.prop_depth, cfg.occluders.jitter)
        out.append(Thing("occluder", types.kind(name), prop, camera.copy(), None, th.size, k, type=name))
    return out


def _statics(rng: np.random.Generator, cfg: SceneConfig, camera: np.ndarray) -> list[Thing]:
    st, H, W, T = cfg.static, cfg.frame.height, cfg.frame.width, cfg.frame.frames
    if not (st.bars or st.square > 0 or st.border > 0):
        return []
    o = np.array([(W - 1) / 2.0, (H - 1) / 2.0])
    identity = np.broadcast_to(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (T, 2, 3)).copy()
    out = []
    if st.bars:
        angle = np.deg2rad(rng.uniform(*st.bar_angle))
        a, n = _unit(angle), np.array([-math.sin(angle), math.cos(angle)])  # along and across the bars
        width, gap = rng.uniform(*st.bar_width), rng.uniform(*st.bar_gap)
        # half-length: across the frame from any bar centre, and wherever the camera pans
        length = math.hypot(H, W) / 2.0 + st.bars * (width + gap) / 2.0 + cfg.camera.pan[1] * T + 2.0
        shift = rng.uniform(0.0, width + gap)
        bars = []
        for i in range(st.bars):
            c = o + ((i - (st.bars - 1) / 2.0) * (width + gap) + shift) * n
            bars.append(np.array([c - length * a - width / 2 * n, c + length * a - width / 2 * n,
                                  c + length * a + width / 2 * n, c - length * a + width / 2 * n]))
        out.append(Thing("occluder", "fence", rings(bars), camera.copy(), None, width + gap))
    if st.square > 0:
        q = np.array([rng.choice([-1.0, 1.0]), rng.choice([-1.0, 1.0])]) * st.square
        sq = np.array([o, o + [q[0], 0.0], o + q, o + [0.0, q[1]]])
        out.append(Thing("occluder", "square", sq, camera.copy(), None, st.square))
    if st.border > 0:
        b = st.border
        outer = np.array([[-1.0, -1.0], [W, -1.0], [W, H], [-1.0, H]])
        inner = np.array([[b - 0.5, b - 0.5], [W - b - 0.5, b - 0.5], [W - b - 0.5, H - b - 0.5],
                          [b - 0.5, H - b - 0.5]])
        out.append(Thing("occluder", "border", rings([outer, inner]), identity, None, b))
    return out


def sample_layout(rng: np.random.Generator, cfg: SceneConfig) -> Layout | None:
    """Draw one scene's objects and motions (module docstring); None if the gum planner found no sweep."""
    T = cfg.frame.frames
    s = np.arange(T, dtype=np.float64) - (T - 1) / 2.0
    camera = _camera(rng, cfg, s)
    if cfg.layout == "gum":
        things = _gum(rng, cfg, camera)
    elif cfg.layout == "row":
        things = _row(rng, cfg, camera, s)
    else:
        things = _sweeps(rng, cfg, camera, s)
    if things is None:
        return None
    return Layout(things + _props(rng, cfg, things, camera) + _statics(rng, cfg, camera), camera)
