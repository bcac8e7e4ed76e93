"""Procedural fish silhouettes: body, tail and fins as one simple polygon (a template type, types.py).

A fish faces +x in its own coordinates, its body running from the tail's base at x = -1 to the nose at
x = 1, its back towards -y (y points down, as in the frame). The body's half-height is a smooth
profile (an elliptic front, widest at ``widest``, a cosine taper to the ``peduncle`` at the tail's
base); the dorsal fin is a bump on the upper contour, the anal
fin one on the lower (so both contours stay functions of x and the outline is simple); the tail lies
wholly behind x = -1. Per instance, ``jitter`` varies the proportions: body height, fin heights, tail
length and spread each by up to that share.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from generators import portable

BODY_POINTS = 28  # nodes of each body contour
TAIL_POINTS = 9  # nodes of a fan or round tail


@dataclass(frozen=True)
class Fish:
    """A fish template; lengths in units of the body's half-length."""

    height: float  # half-height of the body at its widest
    widest: float  # x of the widest point
    peduncle: float  # half-height at the tail's base
    tail: str  # "fork" (two lobes and a notch), "fan" (a wide arc) or "round" (a short arc)
    tail_length: float
    tail_height: float  # half-spread of the tail at its end
    notch: float  # depth of a fork's notch, share of the tail's length
    dorsal: tuple[float, float, float]  # front x, back x, height (share of body height); height 0 = none
    anal: tuple[float, float, float]
    spines: int = 0  # the dorsal fin as that many spines (0 = a smooth fin)


FISH: dict[str, Fish] = {
    # streamlined, a deep fork, small fins
    "fish-tuna": Fish(0.3, 0.1, 0.07, "fork", 0.6, 0.55, 0.65, (0.2, -0.2, 0.6), (-0.3, -0.6, 0.45)),
    # tall disc, long sail-like fins, a short fan
    "fish-angel": Fish(0.62, 0.15, 0.18, "fan", 0.35, 0.38, 0.0, (0.35, -0.85, 0.75), (0.2, -0.85, 0.75)),
    # round body, a big fan tail
    "fish-goldfish": Fish(0.5, 0.2, 0.2, "fan", 0.8, 0.65, 0.0, (0.45, -0.15, 0.45), (-0.35, -0.7, 0.3)),
    # long and thin, one low fin along the back and belly, a rounded tail
    "fish-eel": Fish(0.14, 0.3, 0.08, "round", 0.22, 0.13, 0.0, (0.4, -1.0, 0.7), (-0.05, -1.0, 0.7)),
    # a spiny dorsal fin, a shallow fork
    "fish-perch": Fish(0.4, 0.05, 0.12, "fork", 0.45, 0.42, 0.3, (0.45, -0.15, 0.65), (-0.35, -0.65, 0.4), 6),
}


def vary(fish: Fish, rng: np.random.Generator, jitter: float) -> Fish:
    """One instance of a template: proportions varied by up to ``jitter`` (a share) each."""
    def f() -> float:
        return 1.0 + jitter * rng.uniform(-1.0, 1.0)
    d, a = fish.dorsal, fish.anal
    return replace(fish, height=fish.height * f(), tail_length=fish.tail_length * f(),
                   tail_height=max(fish.tail_height * f(), 1.2 * fish.peduncle),
                   dorsal=(d[0], d[1], d[2] * f()), anal=(a[0], a[1], a[2] * f()))


def _half_height(fish: Fish, x: np.ndarray) -> np.ndarray:
    w = fish.widest
    front = fish.height * np.sqrt(np.clip(1.0 - ((x - w) / (1.0 - w)) ** 2, 0.0, 1.0))
    taper = fish.peduncle + (fish.height - fish.peduncle) * (0.5 + 0.5 * np.cos(np.pi * (w - x) / (w + 1.0)))
    return np.where(x >= w, front, taper)


def _fin(fish: Fish, x: np.ndarray, fin: tuple[float, float, float], spines: int) -> np.ndarray:
    """The fin's height over the contour at x (0 outside the fin): a bump skewed to the back."""
    front, back, height = fin
    if height <= 0.0:
        return np.zeros_like(x)
    s = np.clip((front - x) / (front - back), 0.0, 1.0)  # 0 at the fin's front, 1 at its back
    bump = portable.power(s, 1.5) * (1.0 - s) / (0.6**1.5 * 0.4)  # peak 1 at s = 0.6
    if spines:
        bump = bump * (0.45 + 0.55 * np.abs(np.cos(np.pi * spines * s)))
    return height * fish.height * bump


def _tail(fish: Fish) -> np.ndarray:
    """The tail's nodes from the upper base to the lower base (all behind x = -1), (N, 2)."""
    p, L, h = fish.peduncle, fish.tail_length, fish.tail_height
    if fish.tail == "fork":
        return np.array([[-1.0 - 0.3 * L, p + 0.35 * (h - p)], [-1.0 - L, h],
                         [-1.0 - L * (1.0 - fish.notch), 0.0], [-1.0 - L, -h],
                         [-1.0 - 0.3 * L, -p - 0.35 * (h - p)]])
    # an arc through the tail's end: fan (wide, flat end) or round (a half disc)
    a = np.linspace(0.5 * np.pi, -0.5 * np.pi, TAIL_POINTS)[1:-1]
    bulge = 0.35 if fish.tail == "fan" else 1.0
    x = -1.0 - L * (1.0 - bulge + bulge * np.cos(a))
    return np.stack([x, h * np.sin(a)], axis=-1)


def outline(fish: Fish) -> np.ndarray:
    """float64 (N, 2): the fish's silhouette, a simple polygon: nose, back (with the dorsal fin), tail,
    belly (with the anal fin)."""
    x = np.cos(np.linspace(0.0, np.pi, BODY_POINTS))  # 1 .. -1, denser at the ends
    body = _half_height(fish, x)
    top = np.stack([x, body + _fin(fish, x, fish.dorsal, fish.spines)], axis=-1)
    bottom = np.stack([x, -body - _fin(fish, x, fish.anal, 0)], axis=-1)[::-1]
    out = np.concatenate([top[:-1], [[-1.0, fish.peduncle]], _tail(fish), [[-1.0, -fish.peduncle]],
                          bottom[1:-1]])
    out[:, 1] *= -1.0  # the back up in the frame
    return out
