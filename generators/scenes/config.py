"""SceneConfig: the typed scene YAML of ``savos-gen scene`` (frozen dataclasses, validated on load).

A scene file is a mapping of sections; every section and key is optional (defaults below make a mixed
64 x 64 x 16 scene). An unknown key or a wrong type raises SavosError naming the file and the key path,
e.g. ``scene.yaml: targets.motion.speed: expected a list, got 3``. Lengths in pixels, angles in
degrees, time in frames; pairs are [min, max] ranges sampled uniformly per clip or per object.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from generators.scenes.types import PROP_TYPES, TYPE_NAMES
from savos.data.importers.flow import METHODS
from savos.errors import SavosError, brief
from savos.readers import read_yaml
from savos.schema import FieldError, check, section_from_dict

FAMILIES = ("gum", "polygon", "ellipse", "rounded-rect", "star", "crescent", "lobes", "letter", "heart")
# Object types (generators/scenes/types.py): a fixed template with per-instance variation, named in a
# group's ``families`` like a family; props are the types a static prop may take.
SHAPES = (*FAMILIES, *TYPE_NAMES)
APPEARANCES = ("flat", "stripes", "checker", "noise")
# Real-video conditions (generators/scenes/realvideo.py): where the stored visible flow comes from (the
# exact motion, or an estimator of `savos-gen import`), and the codec the stored frames went through.
FLOW_SOURCES = ("exact", *METHODS)
VIDEO_CODECS = ("none", "h264")


def _pair(value: tuple, key: str, low: float, high: float) -> None:
    check(len(value) == 2 and low <= value[0] <= value[1] <= high, key,
          f"expected [min, max] with {low} <= min <= max <= {high}, got {list(value)}")


@dataclass(frozen=True)
class FrameConfig:
    """Canvas and clip length."""

    height: int = 64
    width: int = 64
    frames: int = 16

    def __post_init__(self) -> None:
        for name, low, high in (("height", 8, 2048), ("width", 8, 2048), ("frames", 2, 1000)):
            value = getattr(self, name)
            check(low <= value <= high, name, f"expected {low}..{high}, got {value}")


@dataclass(frozen=True)
class BackgroundConfig:
    """flat: one colour; gradient: a linear ramp between two colours; noise: a smooth procedural texture;
    water: bright caustic ridges over the base colour (appearance.py). Gradient, noise and water live
    in world coordinates, so a moving camera moves them (background flow)."""

    kind: Literal["flat", "gradient", "noise", "water"] = "flat"


@dataclass(frozen=True)
class MotionConfig:
    """How a group's objects move. Rates are per frame; each object draws its own value and sign.

    speed: drift of the centre (targets: of the group; an occluder adds its sweep across its target).
    rotation: spin, degrees per frame. scaling: log-scale change per frame (0.01 = 1 % per frame).
    shear: change of shear per frame (with scaling: a general affine motion). nonrigid: amplitude in
    pixels of the smooth per-frame warp (motion.py: an analytic, analytically invertible field).
    acceleration: the targets' common acceleration, px per frame^2. boundary: ``bounce`` keeps centres
    inside the frame (reflected paths); ``leave`` lets objects leave it. tail: amplitude of the tail beat
    of the types that have one (fish; types.py), as a fraction of the size (0 = none; it is the
    object's non-rigid motion, so it excludes ``nonrigid``); tail_period: frames per beat. direction:
    the targets' drift direction, degrees, either way along it ([0, 360]: any).
    """

    speed: tuple[float, float] = (0.0, 0.5)
    rotation: tuple[float, float] = (0.5, 3.0)
    scaling: tuple[float, float] = (0.0, 0.0)
    shear: tuple[float, float] = (0.0, 0.0)
    nonrigid: tuple[float, float] = (0.0, 0.0)
    acceleration: float = 0.02
    boundary: Literal["bounce", "leave"] = "bounce"
    tail: tuple[float, float] = (0.0, 0.0)
    tail_period: tuple[float, float] = (6.0, 12.0)
    direction: tuple[float, float] = (0.0, 360.0)

    def __post_init__(self) -> None:
        for name, high in (("speed", 50.0), ("rotation", 30.0), ("scaling", 0.2), ("shear", 0.2),
                           ("nonrigid", 2.0), ("tail", 0.5)):
            _pair(getattr(self, name), name, 0.0, high)
        _pair(self.tail_period, "tail_period", 2.0, 1000.0)
        _pair(self.direction, "direction", -360.0, 360.0)
        check(0.0 <= self.acceleration <= 1.0, "acceleration", f"expected 0..1, got {self.acceleration}")
        check(self.tail[1] == 0.0 or self.nonrigid[1] == 0.0, "tail",
              "the tail beat is the object's non-rigid motion: set nonrigid to [0, 0] with it")


@dataclass(frozen=True)
class GroupConfig:
    """Targets (evaluated, carry the guarantee) or moving occluders: how many, which shapes, how they look
    and move. ``families`` (families and object types, types.py) and ``appearance`` are drawn uniformly
    per object. ``size`` is the radius of the shape's circle; ``vertices`` and ``jitter`` shape the gum
    and polygon families; ``jitter`` is also a type's per-instance variation (0..0.8: its fins, tail,
    proportions and outline vary by up to that share). ``upright``: objects keep their template's up
    (fish, cars): tilted by at most 10 degrees at mid-clip, facing either way (a mirror image), instead
    of turned at random."""

    count: tuple[int, int] = (2, 2)
    families: tuple[str, ...] = ("gum",)
    size: tuple[float, float] = (9.0, 13.0)
    vertices: tuple[int, int] = (7, 12)
    jitter: float = 0.3
    appearance: tuple[str, ...] = ("flat",)
    motion: MotionConfig = field(default_factory=MotionConfig)
    upright: bool = False

    def __post_init__(self) -> None:
        _pair(self.count, "count", 0, 16)
        _pair(self.size, "size", 1.0, 500.0)
        _pair(self.vertices, "vertices", 3, 64)
        check(0.0 <= self.jitter <= 0.8, "jitter", f"expected 0..0.8, got {self.jitter}")
        for name, known in (("families", SHAPES), ("appearance", APPEARANCES)):
            values = getattr(self, name)
            check(len(values) > 0, name, f"expected a non-empty list of {', '.join(known)}")
            for i, v in enumerate(values):
                check(v in known, f"{name}[{i}]", f"unknown {brief(v)} (known: {', '.join(known)})")


@dataclass(frozen=True)
class StaticConfig:
    """Static occluders, front-most, in this order: ``bars`` parallel bars (a fence, one object) fixed in
    the world; a ``square`` of that side with a corner at the frame centre, over one random quadrant
    (0 = none); a frame ``border`` of that width (fixed to the screen; 0 = none).

    Props (props.py): each target gets, with probability ``props``, a prop fixed in the world along its
    path (a type of ``prop_types``: rock, plant, kerb, a parked car), which it slides along: the prop's
    edge cuts off ``prop_depth`` of the target's area (at mid-clip) for the whole path, so that strip of
    the target is never seen. Props are in front of the moving objects and behind bars, square and border.
    """

    bars: int = 0
    bar_width: tuple[float, float] = (2.0, 4.0)
    bar_gap: tuple[float, float] = (6.0, 10.0)
    bar_angle: tuple[float, float] = (0.0, 180.0)
    square: float = 0.0
    border: float = 0.0
    props: float = 0.0
    prop_types: tuple[str, ...] = ("rock",)
    prop_depth: tuple[float, float] = (0.15, 0.35)

    def __post_init__(self) -> None:
        check(0 <= self.bars <= 64, "bars", f"expected 0..64, got {self.bars}")
        check(0.0 <= self.props <= 1.0, "props", f"expected 0..1, got {self.props}")
        check(len(self.prop_types) > 0, "prop_types", f"expected a non-empty list of {', '.join(PROP_TYPES)}")
        for i, v in enumerate(self.prop_types):
            check(v in PROP_TYPES, f"prop_types[{i}]", f"unknown {v!r} (known: {', '.join(PROP_TYPES)})")
        _pair(self.prop_depth, "prop_depth", 0.0, 1.0)
        _pair(self.bar_width, "bar_width", 0.5, 500.0)
        _pair(self.bar_gap, "bar_gap", 0.5, 500.0)
        _pair(self.bar_angle, "bar_angle", -360.0, 360.0)
        check(0.0 <= self.border <= 100.0, "border", f"expected 0..100, got {self.border}")
        check(0.0 <= self.square <= 1000.0, "square", f"expected 0..1000, got {self.square}")


@dataclass(frozen=True)
class CameraConfig:
    """Camera pan (px per frame, random direction) and zoom (log-zoom per frame, random sign)."""

    pan: tuple[float, float] = (0.0, 0.0)
    zoom: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        _pair(self.pan, "pan", 0.0, 20.0)
        _pair(self.zoom, "zoom", 0.0, 0.1)


@dataclass(frozen=True)
class OcclusionConfig:
    """Occlusion control for every target.

    rate: per-frame occlusion-rate range; a frame is in range iff at least max(1, ceil(min * area))
    pixels are hidden (when min > 0) and at most max * area. frames: the fraction of a target's frames
    that must be in range (1.0 = every frame). unseen: the never-seen share of each target's shape (the
    fraction of its shape samples that no frame of the clip shows, guarantee.py): a number is the most
    allowed (0 = every part seen at least once, as Chewing Gum; 1 = no guarantee), a pair [min, max] a
    hard range. sweep_offset: closest approach of a sweeping occluder to its target's centre, as a
    fraction of their mean radius (larger = less occlusion). travel: the probability that a sweeping
    object travels with the one it crosses for the whole clip (hiding the same part of it throughout)
    instead of sliding across, its centre ``travel_offset`` mean radii from the other's. coverage_step:
    grid spacing of the guarantee's shape samples (generators/coverage.py).
    """

    rate: tuple[float, float] = (0.03, 0.9)
    frames: float = 1.0
    unseen: float | tuple[float, float] = 0.0
    sweep_offset: tuple[float, float] = (0.4, 1.0)
    coverage_step: float = 1.0
    travel: float = 0.0
    travel_offset: tuple[float, float] = (0.7, 1.1)

    @property
    def unseen_range(self) -> tuple[float, float]:
        """[min, max] never-seen share of every target (a number u is [0, u])."""
        return (0.0, float(self.unseen)) if isinstance(self.unseen, float) else self.unseen

    def __post_init__(self) -> None:
        _pair(self.rate, "rate", 0.0, 1.0)
        check(0.0 <= self.frames <= 1.0, "frames", f"expected 0..1, got {self.frames}")
        check(0.0 <= self.travel <= 1.0, "travel", f"expected 0..1, got {self.travel}")
        _pair(self.travel_offset, "travel_offset", 0.0, 3.0)
        if isinstance(self.unseen, float):
            check(0.0 <= self.unseen <= 1.0, "unseen", f"expected 0..1 or [min, max], got {self.unseen}")
        else:
            _pair(self.unseen, "unseen", 0.0, 1.0)
        _pair(self.sweep_offset, "sweep_offset", 0.0, 3.0)
        check(0.1 <= self.coverage_step <= 4.0, "coverage_step", f"expected 0.1..4, got {self.coverage_step}")


@dataclass(frozen=True)
class GumConfig:
    """Options of layout ``gum`` alone (the ChewingGumConfig options of the same names). ``arms``: (min,
    max) thin radial spikes added to each target (generators/scenes/arms.py; 0 = none), reaching
    ``arm_length`` x its radius beyond the node circle, ``arm_width`` pixels wide. ``occluder_scale``:
    layout gum draws every radius from ``targets.size`` and multiplies the occluders' by this."""

    arms: tuple[int, int] = (0, 0)
    arm_length: tuple[float, float] = (0.5, 1.0)
    arm_width: tuple[float, float] = (2.0, 3.0)
    occluder_scale: float = 1.0

    def __post_init__(self) -> None:
        _pair(self.arms, "arms", 0, 8)
        _pair(self.arm_length, "arm_length", 0.0, 4.0)
        _pair(self.arm_width, "arm_width", 0.5, 50.0)
        check(0.2 <= self.occluder_scale <= 5.0, "occluder_scale",
              f"expected 0.2..5, got {self.occluder_scale}")


@dataclass(frozen=True)
class RowConfig:
    """Options of layout ``row`` alone (row.py): the targets, then the occluders, stand in a row fixed in
    the world (parked cars), each in front of the one before it and covering ``overlap`` (a share of the
    length of the one behind) of its end, so that end is never seen. ``angle``: the row's direction in
    degrees; ``jitter``: each object's offset across the row, a share of its size; ``flip``: the
    probability that an object faces the other way along the row."""

    overlap: tuple[float, float] = (0.15, 0.35)
    angle: tuple[float, float] = (0.0, 0.0)
    jitter: float = 0.1
    flip: float = 0.0

    def __post_init__(self) -> None:
        _pair(self.overlap, "overlap", 0.0, 0.9)
        _pair(self.angle, "angle", -360.0, 360.0)
        check(0.0 <= self.jitter <= 1.0, "jitter", f"expected 0..1, got {self.jitter}")
        check(0.0 <= self.flip <= 1.0, "flip", f"expected 0..1, got {self.flip}")


# Keys added after the first scenes were made: ``to_dict`` leaves them out at their default, so the meta
# (and so the bytes) of a scene that does not use them stay what they were.
LATER_KEYS = (("gum",), ("row",), ("flow",), ("video_codec",), ("occlusion", "travel"),
              ("occlusion", "travel_offset"), ("static", "props"),
              ("static", "prop_types"), ("static", "prop_depth"),
              *((group, *key) for group in ("targets", "occluders")
                for key in (("motion", "tail"), ("motion", "tail_period"), ("motion", "direction"),
                            ("upright",))))


@dataclass(frozen=True)
class SceneConfig:
    """A whole scene. layout: ``gum`` plans Chewing-Gum sweeps (generators/scenes/gum_planner.py; gum
    targets and occluders drawn from the targets' size, vertices, jitter and motion, fixed counts, rigid
    motion, the ``gum`` options); ``sweep`` sends each occluder across a target, for any family and
    motion; ``path``: one target on a square path (the original code's geometry); ``row``: the objects
    stand in an overlapping row (the ``row`` options; parked cars under a moving camera). ``savos-gen
    chewing-gum`` is layout gum (generators/chewing_gum.py translates its config).

    Real-video conditions (generators/scenes/realvideo.py; masks, amodal masks and amodal flow stay
    exact): ``flow`` ``exact`` stores the exact visible flow, ``dis-fine`` / ``dis-medium`` / ``dis-fast``
    / ``farneback`` the estimate ``savos-gen import`` makes from the stored frames; ``video_codec``
    ``h264`` stores the frames an H.264 round trip returns (``none``: as rendered)."""

    frame: FrameConfig = field(default_factory=FrameConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    targets: GroupConfig = field(default_factory=GroupConfig)
    occluders: GroupConfig = field(default_factory=lambda: GroupConfig(count=(1, 1)))
    static: StaticConfig = field(default_factory=StaticConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    occlusion: OcclusionConfig = field(default_factory=OcclusionConfig)
    gum: GumConfig = field(default_factory=GumConfig)
    row: RowConfig = field(default_factory=RowConfig)
    layout: Literal["gum", "sweep", "path", "row"] = "sweep"
    min_color_distance: float = 80.0
    amodal_flow: bool = True
    max_attempts: int = 200
    flow: str = "exact"
    video_codec: str = "none"

    def __post_init__(self) -> None:
        check(self.flow in FLOW_SOURCES, "flow",
              f"expected one of {', '.join(FLOW_SOURCES)}, got {brief(self.flow)}")
        check(self.video_codec in VIDEO_CODECS, "video_codec",
              f"expected one of {', '.join(VIDEO_CODECS)}, got {brief(self.video_codec)}")
        check(self.targets.count[0] >= 1, "targets.count", "expected at least one target")
        check(0.0 <= self.min_color_distance <= 150.0, "min_color_distance",
              f"expected 0..150, got {self.min_color_distance}")
        check(1 <= self.max_attempts <= 100_000, "max_attempts",
              f"expected 1..100000, got {self.max_attempts}")
        most = self.targets.count[1] + self.occluders.count[1] + 3
        check(most < 256, "targets.count", "at most 252 objects in all")
        if self.layout == "gum":
            for group in ("targets", "occluders"):
                g = getattr(self, group)
                check(g.families == ("gum",), f"{group}.families", "layout gum takes only the gum family")
                check(g.count[0] == g.count[1], f"{group}.count", "layout gum takes a fixed count [n, n]")
            check(self.occluders.count[0] >= 1, "occluders.count", "layout gum needs at least one occluder")
        else:
            check(self.gum == GumConfig(), "gum",
                  f"options of layout gum alone; this scene's layout is {self.layout}")
        if self.layout == "path":
            check(self.targets.count == (1, 1), "targets.count", "layout path moves exactly one target")
        if self.layout != "row":
            check(self.row == RowConfig(), "row", f"options of layout row alone; this scene's layout is "
                  f"{self.layout}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able and JSON-stable (tuples as lists): ``meta["config"]`` and ``from_dict`` input. The
        ``LATER_KEYS`` only when they are not the default, so older scenes keep their bytes."""
        out = _plain(dataclasses.asdict(self))
        default = _plain(dataclasses.asdict(SceneConfig()))
        for path in LATER_KEYS:
            here, base = out, default
            for key in path[:-1]:
                here, base = here[key], base[key]
            if here[path[-1]] == base[path[-1]]:
                del here[path[-1]]
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "scene config") -> SceneConfig:
        """Build from a mapping; SavosError ``"<where>: <key path>: <what is wrong>"`` on a bad key."""
        try:
            return section_from_dict(cls, data, "")
        except FieldError as e:
            raise SavosError(f"{where}: {e.key or '<top>'}: {e.msg}") from None


def load_scene(path: str | Path) -> SceneConfig:
    """Read a scene YAML file; every error is one line naming the file."""

    return SceneConfig.from_dict(read_yaml(path, "scene file"), str(path))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x
