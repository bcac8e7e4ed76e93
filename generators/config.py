"""ChewingGumConfig: every option of the Chewing-Gum generator, with defaults and validation.

The defaults make a set that is a real test and small enough to train on a CPU: 64x64 pixels, 16
frames (a training window is 16 frames, and every window of a whole clip carries the guarantee), two
target polygons and one occluder polygon, all "chewing gum" blobs of 7-12 nodes (paper §4) with radius
jitter 0.3 (concave, so the convex hull of the visible part is a poor guess of the hidden part). The
sweep geometry puts ~90% of target object-frames at occlusion rates in (0.1, 0.7), the band the paper
evaluates, and no target is ever hidden more than 90% (it stays trackable). Amodal flow is on by
default: stored sparsely (only moving pixels cost bytes), it keeps a default video near 47 kB.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generators.scenes.config import FLOW_SOURCES, VIDEO_CODECS
from savos.errors import SavosError, brief
from savos.limits import MAX_CLIP_PIXELS
from savos.readers import read_yaml

# name -> (kind, low, high): the allowed closed range. Kinds: "int", "float", "bool", pairs "int2" /
# "float2" (min, max) with low <= min <= max <= high, and "choice": one of _CHOICES[name].
_SCHEMA: dict[str, tuple[str, float, float]] = {
    "height": ("int", 8, 2048),
    "width": ("int", 8, 2048),
    "frames": ("int", 2, 1000),
    "num_targets": ("int", 1, 16),
    "num_occluders": ("int", 1, 16),
    "vertices": ("int2", 3, 64),
    "radius": ("float2", 2.0, 500.0),
    "radius_jitter": ("float", 0.0, 0.8),
    "speed": ("float2", 0.0, 50.0),
    "rotation": ("float2", 0.0, 30.0),
    "acceleration": ("float", 0.0, 1.0),
    "sweep_offset": ("float2", 0.0, 1.5),
    "min_occlusion": ("float", 0.0, 0.95),
    "max_occlusion": ("float", 0.05, 1.0),
    "coverage_step": ("float", 0.1, 4.0),
    "min_color_distance": ("float", 0.0, 150.0),
    "amodal_flow": ("bool", 0, 1),
    "max_attempts": ("int", 1, 100_000),
    "arms": ("int2", 0, 8),
    "arm_length": ("float2", 0.0, 4.0),
    "arm_width": ("float2", 0.5, 50.0),
    "occluder_scale": ("float", 0.2, 5.0),
    "flow": ("choice", 0, 0),
    "video_codec": ("choice", 0, 0),
}
_CHOICES: dict[str, tuple[str, ...]] = {"flow": FLOW_SOURCES, "video_codec": VIDEO_CODECS}
# Options added after the first release: recorded (to_dict, so meta and dataset.json) only when they
# differ from their default, so a default config's clips keep their bytes.
_LATER = ("arms", "arm_length", "arm_width", "occluder_scale", "flow", "video_codec")


@dataclass(frozen=True)
class ChewingGumConfig:
    """Chewing-Gum generator options. Lengths in pixels, angles in degrees, time in frames.

    Attributes:
        height, width: frame size.
        frames: T, frames per clip.
        num_targets: polygons evaluated as targets (each carries the coverage guarantee).
        num_occluders: extra polygons in front of the targets (role "occluder"; at least one, since
            the front-most target needs something in front of it to be occluded).
        vertices: (min, max) number of polygon nodes, inclusive (paper: 7 to 12).
        radius: (min, max) circle radius of a polygon's nodes.
        radius_jitter: each node's radius is scaled by a factor uniform in [1 - j, 1 + j].
        speed: (min, max) drift of the targets' centroid, pixels per frame.
        rotation: (min, max) magnitude of each polygon's spin, degrees per frame (random sign).
        acceleration: max magnitude of the group's common acceleration, pixels per frame^2.
        sweep_offset: (min, max) closest approach of a sweeping polygon's path to the centre of the
            polygon it sweeps, as a fraction of their mean radius (larger = less occlusion).
        min_occlusion: every target, every frame: at least max(1, ceil(min_occlusion * area)) of its
            amodal pixels are hidden by polygons in front of it (the full shape is never shown).
        max_occlusion: every target, every frame: at most this fraction hidden (it stays trackable).
        coverage_step: spacing of the grid of samples of a target's own shape for the coverage
            guarantee (the occluded pixel centres of every frame are samples too; see coverage.py).
        min_color_distance: minimum Euclidean RGB distance between any two of the flat colours
            (background included).
        amodal_flow: compute and store ``amodal_flow_fwd`` (T-1, K, H, W, 2).
        max_attempts: scenes sampled per clip before giving up (rejections are rare).
        arms: (min, max) thin radial spikes added to each target polygon (generators/scenes/arms.py;
            0 = none): a
            part whose presence behind an occluder nothing visible in that frame gives away.
        arm_length: (min, max) how far an arm reaches beyond the node circle, fraction of the radius.
        arm_width: (min, max) arm width, pixels.
        occluder_scale: the radius of each occluder (role "occluder") is ``radius`` times this: a large
            occluder hides a target's side up to a long edge, with nothing of the target beyond it.
        flow: the stored visible flow: ``exact``, or estimated from the stored frames as ``savos-gen
            import`` estimates it (``dis-fine``, ``dis-medium``, ``dis-fast``, ``farneback``); the scene
            key of the same name (generators/scenes/realvideo.py). Amodal masks and flow stay exact.
        video_codec: ``none``, or ``h264``: the stored frames are what an H.264 round trip returns.
    """

    height: int = 64
    width: int = 64
    frames: int = 16
    num_targets: int = 2
    num_occluders: int = 1
    vertices: tuple[int, int] = (7, 12)
    radius: tuple[float, float] = (9.0, 13.0)
    radius_jitter: float = 0.3
    speed: tuple[float, float] = (0.0, 0.5)
    rotation: tuple[float, float] = (0.5, 3.0)
    acceleration: float = 0.02
    sweep_offset: tuple[float, float] = (0.4, 1.0)
    min_occlusion: float = 0.03
    max_occlusion: float = 0.9
    coverage_step: float = 1.0
    min_color_distance: float = 80.0
    amodal_flow: bool = True
    max_attempts: int = 200
    arms: tuple[int, int] = (0, 0)
    arm_length: tuple[float, float] = (0.5, 1.0)
    arm_width: tuple[float, float] = (2.0, 3.0)
    occluder_scale: float = 1.0
    flow: str = "exact"
    video_codec: str = "none"

    def __post_init__(self) -> None:
        for name, (kind, low, high) in _SCHEMA.items():
            object.__setattr__(self, name, _checked(name, getattr(self, name), kind, low, high))
        pixels = self.frames * self.height * self.width
        if pixels > MAX_CLIP_PIXELS:
            raise SavosError(f"chewing-gum config: frames x height x width = {pixels:,} pixels per clip is "
                             f"more than {MAX_CLIP_PIXELS:,}; make the clips smaller")
        if self.max_occlusion <= self.min_occlusion:
            raise SavosError(f"chewing-gum config: max_occlusion must be greater than min_occlusion "
                             f"({self.min_occlusion}), got {self.max_occlusion}")

    @property
    def num_objects(self) -> int:
        return self.num_targets + self.num_occluders

    def to_dict(self) -> dict[str, Any]:
        """JSON-able and JSON-stable (pairs as lists): ``meta["config"]`` and ``from_dict`` input."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._items}

    @functools.cached_property
    def _items(self) -> tuple[tuple[str, Any], ...]:
        defaults = ChewingGumConfig.__dataclass_fields__
        return tuple((name, getattr(self, name)) for name in _SCHEMA
                     if name not in _LATER or getattr(self, name) != defaults[name].default)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChewingGumConfig:
        """Build from a mapping (a YAML file, CLI options). Unknown keys and wrong types raise
        SavosError naming the key; missing keys take their defaults."""
        if not isinstance(d, Mapping):
            raise SavosError(f"chewing-gum config must be a mapping of option: value, got {type(d).__name__}")
        unknown = [k for k in d if k not in _SCHEMA]
        if unknown:
            raise SavosError(f"unknown chewing-gum config key {brief(unknown[0])}; "
                             f"known keys: {', '.join(_SCHEMA)}")
        return cls(**dict(d))


def _checked(name: str, value: Any, kind: str, low: float, high: float) -> Any:
    """The value normalised to its kind (ints as int, floats as float, pairs as tuples), or SavosError."""
    def fail(what: str) -> SavosError:
        return SavosError(f"chewing-gum config: {name} must be {what}, got {brief(value)}")

    def scalar(v: Any, k: str) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float) or (k == "int" and not isinstance(v, int)):
            raise fail(f"{'an integer' if k == 'int' else 'a number'} in [{low}, {high}]")
        if not low <= v <= high:  # also rejects nan
            raise fail(f"in [{low}, {high}]")
        return int(v) if k == "int" else float(v)

    if kind == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if kind == "choice":
        if not isinstance(value, str) or value not in _CHOICES[name]:
            raise fail(f"one of {', '.join(_CHOICES[name])}")
        return value
    if kind in ("int", "float"):
        return scalar(value, kind)
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise fail(f"a pair [min, max] with {low} <= min <= max <= {high}")
    pair = tuple(scalar(v, kind[:-1]) for v in value)
    if pair[0] > pair[1]:
        raise fail(f"a pair [min, max] with min <= max, within [{low}, {high}]")
    return pair


def load_gum_config(config_file: str | None, flags: Mapping[str, Any]) -> ChewingGumConfig:
    """The Chewing-Gum config of ``savos-gen chewing-gum``: the YAML file's options (if any), then the
    flags that are not None on top. Errors in the file alone name the file."""
    options: dict[str, Any] = {}
    if config_file:
        data = read_yaml(config_file, "generator config")
        if data is not None and not isinstance(data, dict):
            raise SavosError(f"{config_file}: expected a mapping of generator options, got "
                             f"{type(data).__name__}")
        options = dict(data or {})
        try:
            ChewingGumConfig.from_dict(options)
        except SavosError as e:
            raise SavosError(f"{config_file}: {e}") from None
    options.update({k: v for k, v in flags.items() if v is not None})
    try:
        return ChewingGumConfig.from_dict(options)
    except SavosError as e:
        raise SavosError(f"{config_file}: {e}" if config_file else str(e)) from None
