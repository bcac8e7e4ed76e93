"""Import speed and disk use of `savos-gen import fishbowl` at FISHBOWL's size, extrapolated to the full
set (10,000 train videos of 128 frames at 320x480).

The real data cannot be downloaded here, so the source is a synthetic raw-layout FISHBOWL at full size:
the tests' fixture builder (moving rectangles as fish), re-encoded with a natural photograph
(scikit-image's "coffee") as the static background and H.264 like FISHBOWL, so frames carry realistic
texture and compression noise (what dominates lossless RGB storage). Runs the real CLI in a subprocess.

    python benchmarks/import_throughput.py [--videos 2] [--frames 128] [--flow dis-fine] [--workers 1]
        [--size 160x240]

Side by side, it times the flow estimator alone on the same videos (decoded, at the stored size, one
thread) and prints the import's time per video against it (the CLI's start-up included), and the
import's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from savos.data.importers.assemble import resize_rgb
from savos.data.importers.flow import estimate_flow
from savos.data.importers.media import read_video
from savos.data.importers.samples import make_fishbowl_raw, write_mp4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=2)
    ap.add_argument("--frames", type=int, default=128)
    ap.add_argument("--flow", default="dis-fine")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--objects", type=int, default=6)
    ap.add_argument("--size", default=None, help="--size of the import (HxW), e.g. 160x240")
    ap.add_argument("--window", type=int, default=None, help="--window of the import (frames per clip)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="savos-import-bench-"))
    truth = make_fishbowl_raw(tmp / "src", videos=args.videos, T=args.frames, H=320, W=480, K=args.objects)
    background = np.asarray(Image.fromarray(skimage.data.coffee()).resize((480, 320)))
    for vid, (_, visible, _, _) in truth.items():
        video = tmp / "src" / "train_data" / "train" / vid / "video.mp4"
        rgb = read_video(video)
        seen = visible.any(axis=1)  # (T, H, W)
        rgb[~seen] = np.broadcast_to(background, rgb.shape)[~seen]
        write_mp4(video, rgb)
    src_mb = sum(p.stat().st_size for p in (tmp / "src").rglob("*") if p.is_file()) / 1e6
    cmd = [sys.executable, "-m", "savos.cli.gen", "import", "fishbowl", str(tmp / "src"), "--out",
           str(tmp / "ds"), "--flow", args.flow, "--workers", str(args.workers), "-q"]
    cmd += ["--size", args.size] if args.size else []
    cmd += ["--window", str(args.window)] if args.window else []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)  # this process's peak RSS, not ffmpeg's that made the source
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import failed: {' '.join(cmd)}")
    mb = sum(p.stat().st_size for p in (tmp / "ds").rglob("*.tar")) / 1e6
    per_video = seconds / args.videos
    flow_s = 0.0
    for vid in truth:
        rgb = read_video(tmp / "src" / "train_data" / "train" / vid / "video.mp4")
        if args.size:
            rgb = resize_rgb(rgb, tuple(int(x) for x in args.size.split("x")))
        t0 = time.perf_counter()
        estimate_flow(rgb, args.flow)
        flow_s += time.perf_counter() - t0
    flow_per_video = flow_s / args.videos
    print(f"{args.videos} videos x {args.frames} frames at 320x480 (stored at {args.size or '320x480'}), "
          f"{args.objects} fish, flow {args.flow}, window {args.window or args.frames}, "
          f"{args.workers} worker(s)")
    print(f"  import {per_video:.2f} s/video, flow alone {flow_per_video:.2f} s/video: "
          f"{per_video / flow_per_video:.2f}x the flow")
    print(f"  {args.videos / seconds:.3f} videos/s ({per_video:.1f} s/video incl. flow), "
          f"{mb / args.videos:.1f} MB/video (source {src_mb / args.videos:.1f} MB/video)")
    full = 10_000 * args.frames / 128
    rss = usage.ru_maxrss / 1e3
    print(f"  peak RSS {rss:.0f} MB per worker process")
    print(f"  full FISHBOWL train (10,000 videos): {full * per_video / 3600:.1f} h per worker, "
          f"{full * mb / args.videos / 1e3:.0f} GB")


if __name__ == "__main__":
    main()
