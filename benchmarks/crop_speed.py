"""Milliseconds per track of ``crop_track`` at FISHBOWL's size: a 32-frame 320x480 clip, 6 objects,
64x128 patches (the paper's), whole-clip windows, as prediction crops them.

    OMP_NUM_THREADS=1 python benchmarks/crop_speed.py [--frames 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_crop_reference import random_clip  # noqa: E402

from savos.tracks import crop_track, make_tracks  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    clip = random_clip(np.random.default_rng(0), args.frames, 6, 320, 480)
    tracks = make_tracks(clip, (64, 128), 1.5)
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for tr in tracks:
            crop_track(clip, tr)
        best = min(best, (time.perf_counter() - t0) / len(tracks))
    print(f"crop_track: {best * 1e3:.1f} ms per track ({len(tracks)} tracks, {args.frames} frames at "
          "320x480, 64x128 patches)")


if __name__ == "__main__":
    main()
