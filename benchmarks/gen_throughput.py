"""Generation throughput: videos/s, MB/video and peak RSS of `savos-gen chewing-gum` and of every scene
preset (`savos-gen scene recipes/scenes/*.yaml`).

Runs the real CLI in a subprocess (so start-up, pool, encoding and writing are all counted): Chewing Gum
at the default size, at 128x128x32 frames, and with recipes/data/gum-hard.yaml (one target with arms
behind a large occluder: more scenes are drawn per accepted clip); with --presets, each scene preset next
to Chewing Gum at the same frame size and clip length (goal: every preset >= 1/3 of Chewing Gum's
videos/s).

    python benchmarks/gen_throughput.py [--n 5000] [--big-n 500] [--hard-n 2000] [--workers N]
    python benchmarks/gen_throughput.py --presets [--preset-n 300] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(n: int, extra: list[str], workers: int | None, command: str = "chewing-gum") -> dict:
    out = Path(tempfile.mkdtemp(prefix="savos-bench-")) / "ds"
    cmd = [sys.executable, "-m", "savos.cli.gen", *command.split(), "--n", str(n), "--out", str(out), "-q",
           *extra]
    if workers:
        cmd += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over waited-for processes
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out.parent)
    return {"n": n, "seconds": seconds, "videos_per_s": n / seconds, "mb_per_video": size / n / 1e6,
            "peak_rss_mb": max(peak_kb, before) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--big-n", type=int, default=500)
    ap.add_argument("--hard-n", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--presets", action="store_true", help="Every scene preset against Chewing Gum.")
    ap.add_argument("--only", nargs="+", default=None, help="With --presets: only these presets (names).")
    ap.add_argument("--preset-n", type=int, default=300)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}")
    if args.presets:
        presets(args.preset_n, args.workers, args.only)
        return
    big = ["--height", "128", "--width", "128", "--frames", "32"]
    hard = ["--config", str(Path(__file__).resolve().parents[1] / "recipes" / "data" / "gum-hard.yaml")]
    for label, n, extra in (("default size", args.n, []), ("128x128x32", args.big_n, big),
                            ("gum-hard", args.hard_n, hard)):
        r = run(n, extra, args.workers)
        print(f"{label:>14}: {r['n']} videos in {r['seconds']:.2f} s = {r['videos_per_s']:.0f} videos/s, "
              f"{r['mb_per_video'] * 1000:.1f} kB/video, peak RSS {r['peak_rss_mb']:.0f} MB")


def presets(n: int, workers: int | None, only: list[str] | None = None) -> None:
    from generators.scenes.config import load_scene

    gum: dict[tuple[int, int, int], dict] = {}
    for path in sorted((Path(__file__).parent.parent / "recipes" / "scenes").glob("*.yaml")):
        if only is not None and path.stem not in only:
            continue
        f = load_scene(path).frame
        size = (f.height, f.width, f.frames)
        if size not in gum:
            flags = ["--height", str(f.height), "--width", str(f.width), "--frames", str(f.frames)]
            gum[size] = run(n, flags, workers)
        r = run(n, [], workers, command=f"scene {path}")
        ratio = r["videos_per_s"] / gum[size]["videos_per_s"]
        flag = "" if ratio >= 1 / 3 else " < 1/3"
        print(f"{path.stem:>10} {f.height}x{f.width}x{f.frames}: {r['videos_per_s']:6.1f} videos/s "
              f"(chewing-gum {gum[size]['videos_per_s']:6.1f}, ratio {ratio:.2f}{flag}), "
              f"{r['mb_per_video'] * 1000:.1f} kB/video, peak RSS {r['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
