"""End-point error of the flow estimators used for real videos, against exact flow.

Chewing-Gum clips are flat-coloured, which no classical estimator can track inside a shape, so each
clip is re-painted with texture: every pixel of object k at frame t takes the colour of a smooth random
texture at the pixel's position in the object's own coordinates (from ``meta.objects[k].pose``), and
the static background gets its own texture. The video then moves exactly as ``clip.flow_fwd`` says.

    python benchmarks/real_flow_error.py [--clips 20] [--size 128] [--frames 8]

Prints, per method, the mean EPE (px) over all pixels, over object pixels, and the share of object
pixels with EPE < 1 px, plus the seconds per frame pair (both directions).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.data.importers.flow import METHODS, estimate_flow


def texture(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth colour texture (sum of random plane waves) at points (x, y) -> uint8 (..., 3)."""
    out = np.zeros(x.shape + (3,))
    for _ in range(12):
        f = rng.uniform(0.05, 0.6)
        a = rng.uniform(0, 2 * np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(10, 30, 3)
        out += amp * np.sin(f * (np.cos(a) * x + np.sin(a) * y) + phase)[..., None]
    return np.clip(128 + out, 0, 255).astype(np.uint8)


def textured(clip, rng: np.random.Generator) -> np.ndarray:
    T, H, W = clip.visible.shape
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    seeds = rng.integers(0, 2**31, clip.num_objects + 1)
    rgb = np.repeat(texture(np.random.default_rng(seeds[0]), xs, ys)[None], T, axis=0)
    for k, obj in enumerate(clip.meta["objects"]):
        for t, (cx, cy, angle) in enumerate(obj["pose"]):
            m = clip.visible[t] == k + 1
            dx, dy = xs[m] - cx, ys[m] - cy
            c, s = np.cos(angle), np.sin(angle)  # own coordinates: inverse rotation
            rgb[t][m] = texture(np.random.default_rng(seeds[k + 1]), c * dx + s * dy, -s * dx + c * dy)
    return rgb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args()
    cfg = ChewingGumConfig(height=args.size, width=args.size, frames=args.frames, amodal_flow=False,
                           radius=(args.size / 64 * 9, args.size / 64 * 13))
    rng = np.random.default_rng(0)
    clips = [generate_clip(cfg, 0, i, "test") for i in range(args.clips)]
    videos = [textured(c, rng) for c in clips]
    print(f"{args.clips} textured Chewing-Gum clips, {args.size}x{args.size}, {args.frames} frames")
    print(f"{'method':14s} {'EPE all':>8s} {'EPE obj':>8s} {'obj<1px':>8s} {'s/pair':>7s}")
    for method in METHODS:
        all_err, obj_err, seconds, pairs = [], [], 0.0, 0
        for clip, rgb in zip(clips, videos, strict=True):
            t0 = time.perf_counter()
            fwd, bwd = estimate_flow(rgb, method)
            seconds += time.perf_counter() - t0
            pairs += len(fwd)
            for est, exact, labels in ((fwd, clip.flow_fwd, clip.visible[:-1]),
                                       (bwd, clip.flow_bwd, clip.visible[1:])):
                err = np.linalg.norm(est - exact, axis=-1)
                all_err.append(err.ravel())
                obj_err.append(err[labels > 0])
        a, o = np.concatenate(all_err), np.concatenate(obj_err)
        print(f"{method:14s} {a.mean():8.3f} {o.mean():8.3f} {100 * (o < 1).mean():7.1f}% "
              f"{seconds / pairs:7.4f}")


if __name__ == "__main__":
    main()
