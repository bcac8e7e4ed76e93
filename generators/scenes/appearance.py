"""Appearance: colours, object textures that move with the object, and the background.

Every object has a base colour (pairwise at least ``min_color_distance`` apart, background included). A
textured object also has a second colour and a pattern ``w(u, v)`` in [0, 1] of its canonical
coordinates (u, v) (motion.to_own), so the pattern moves, turns, scales and deforms with it; a pixel's
colour is ``rint(c1 + w (c2 - c1))``. The background's pattern is a function of world coordinates (the
camera's inverse map), so a moving camera moves it. Patterns are smooth or steep-but-continuous (no
thresholds), so recomputing them elsewhere differs by at most one grey level.

Records (meta): ``{"kind": "flat" | "stripes" | "checker" | "noise" | "gradient" | "water",
"colors": [c1, c2], "params": [floats]}``. ``sample_look`` draws a clip's colours and textures (after its
scene, from the clip's generator); ``paint_scene`` paints them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.geometry import pixel_centres
from generators.render import paint, sample_colors
from generators.scenes.config import SceneConfig
from generators.scenes.flows import still
from generators.scenes.layout import Layout, Thing
from generators.scenes.motion import to_own

STATIC_FAMILIES = ("fence", "square", "border")  # always flat


@dataclass
class Look:
    """A clip's colours: base colours pairwise ``min_color_distance`` apart, and texture records."""

    background: list[int]  # [r, g, b]
    colors: list[list[int]]  # K x [r, g, b], the objects' base colours
    textures: list[dict]  # K texture records, one per object
    background_texture: dict


def _second_color(rng: np.random.Generator, base: list[int]) -> list[int]:
    for c in rng.integers(0, 256, size=(64, 3)).tolist():
        if sum((a - b) ** 2 for a, b in zip(c, base, strict=True)) >= 80.0**2:
            return c
    return [255 - v for v in base]


def sample_texture(rng: np.random.Generator, kind: str, base: list[int], size: float) -> dict:
    """The record of a pattern of ``kind`` on an object (or background) of typical size ``size``."""
    if kind == "flat":
        return {"kind": "flat", "colors": [base, base], "params": []}
    if kind == "water":  # 4 waves as noise; the ridges' colour is the base lightened
        params = [v for _ in range(4) for v in (rng.uniform(0.5, 1.5) * size, rng.uniform(0.0, 2.0 * np.pi),
                                                rng.uniform(0.0, 2.0 * np.pi))]
        return {"kind": kind, "colors": [base, [min(255, c + 80) for c in base]], "params": params}
    second = _second_color(rng, base)
    if kind == "stripes":  # period, angle, phase
        params = [rng.uniform(0.4, 0.8) * size, rng.uniform(0.0, np.pi), rng.uniform(0.0, 2.0 * np.pi)]
    elif kind == "checker":  # cell, angle
        params = [rng.uniform(0.3, 0.6) * size, rng.uniform(0.0, np.pi)]
    elif kind == "noise":  # 4 waves: wavelength, angle, phase
        params = [v for _ in range(4) for v in (rng.uniform(0.5, 1.5) * size, rng.uniform(0.0, 2.0 * np.pi),
                                                rng.uniform(0.0, 2.0 * np.pi))]
    elif kind == "gradient":  # angle, length
        params = [rng.uniform(0.0, 2.0 * np.pi), size]
    else:
        raise ValueError(f"unknown texture {kind!r}")
    return {"kind": kind, "colors": [base, second], "params": [float(p) for p in params]}


def pattern(texture: dict, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """w(u, v) in [0, 1], float64 (P,), of a texture record at points u, v (P,)."""
    kind, p = texture["kind"], texture["params"]
    if kind == "flat":
        return np.zeros_like(u)
    if kind == "stripes":
        along = u * np.cos(p[1]) + v * np.sin(p[1])
        return np.clip(0.5 + 2.0 * np.sin(2.0 * np.pi * along / p[0] + p[2]), 0.0, 1.0)
    if kind == "checker":
        c, s = np.cos(p[1]), np.sin(p[1])
        a, b = u * c + v * s, v * c - u * s
        return np.clip(0.5 + 2.0 * np.sin(np.pi * a / p[0]) * np.sin(np.pi * b / p[0]), 0.0, 1.0)
    if kind == "noise":
        total = np.zeros_like(u)
        for i in range(0, len(p), 3):
            along = u * np.cos(p[i + 1]) + v * np.sin(p[i + 1])
            total += np.sin(2.0 * np.pi * along / p[i] + p[i + 2])
        return np.clip(0.5 + total / 4.0, 0.0, 1.0)
    if kind == "gradient":
        return np.clip(0.5 + (u * np.cos(p[0]) + v * np.sin(p[0])) / p[1], 0.0, 1.0)
    if kind == "water":  # caustics: bright ridges where the sum of the waves crosses 0
        total = np.zeros_like(u)
        for i in range(0, len(p), 3):
            total += np.sin(2.0 * np.pi * (u * np.cos(p[i + 1]) + v * np.sin(p[i + 1])) / p[i] + p[i + 2])
        return np.clip(1.0 - np.abs(total) / 1.5, 0.0, 1.0) ** 2
    raise ValueError(f"unknown texture {kind!r}")


def shade(texture: dict, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """uint8 (P, 3): the texture's colour at points u, v (P,)."""
    c1, c2 = (np.asarray(c, np.float64) for c in texture["colors"])
    w = pattern(texture, u, v)[:, None]
    return np.clip(np.rint(c1 + w * (c2 - c1)), 0, 255).astype(np.uint8)


def sample_look(rng: np.random.Generator, cfg: SceneConfig, things: list[Thing], what: str) -> Look:
    """Base colours (background first), then each object's texture, then the background's. ``what``
    names the generator in the error raised when the colours cannot be found."""
    H, W = cfg.frame.height, cfg.frame.width
    background, *colors = sample_colors(rng, len(things) + 1, cfg.min_color_distance, what)
    textures = []
    for k, th in enumerate(things):
        group = cfg.targets if th.role == "target" else cfg.occluders
        kinds = group.appearance if th.family not in STATIC_FAMILIES else ("flat",)
        kind = kinds[0] if len(kinds) == 1 else kinds[int(rng.integers(0, len(kinds)))]
        textures.append(sample_texture(rng, kind, colors[k], th.size))
    back = sample_texture(rng, cfg.background.kind, background, min(H, W) / 2.0)
    return Look(background, colors, textures, back)


def paint_scene(layout: Layout, visible: np.ndarray, background: dict, textures: list[dict]) -> np.ndarray:
    """rgb uint8 (T, H, W, 3) of labels (T, H, W): flat colours, then each textured surface (the
    background's in world coordinates, an object's in its canonical ones)."""
    T, H, W = visible.shape
    rgb = paint(visible, background["colors"][0], [tx["colors"][0] for tx in textures])
    if background["kind"] == "flat" and all(tx["kind"] == "flat" for tx in textures):
        return rgb
    centre = np.array([(W - 1) / 2.0, (H - 1) / 2.0])
    xs, ys = pixel_centres(H, W)
    view = rgb.reshape(-1, 3)
    for label, tex in enumerate([background, *textures]):
        if tex["kind"] == "flat":
            continue
        flat = np.flatnonzero(visible == label)
        t = flat // (H * W)
        pixel = flat - t * (H * W)
        if label == 0 and still(layout.camera):  # one frame of background serves every frame
            view[flat] = shade(tex, xs - centre[0], ys - centre[1]).take(pixel, axis=0)
            continue
        x, y = xs.take(pixel), ys.take(pixel)
        if label == 0:  # world coordinates, from the frame centre
            u, v = to_own(layout.camera, None, t, x, y)
            u, v = u - centre[0], v - centre[1]
        else:
            th = layout.things[label - 1]
            u, v = to_own(th.maps, th.warps, t, x, y)
        view[flat] = shade(tex, u, v)
    return rgb
