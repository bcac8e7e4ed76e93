"""Seconds per training step and peak memory for a recipe (default: the CPU recipe).

    OMP_NUM_THREADS=2 python benchmarks/train_step.py                       # gum-cpu, synthetic tracks
    python benchmarks/train_step.py --data data/gum --steps 30 --set train.batch_size=4
    python benchmarks/train_step.py --stream-vs-disk 40                     # whole training runs

--stream-vs-disk N trains the recipe for N steps twice with the real trainer (one DataLoader worker, as
recipes/gum-stream.yaml): from a Chewing-Gum dataset on disk (made first, not timed) and streamed from
recipes/scenes/gum.yaml, and prints the steps/s of both (goal: streaming within 5 % of disk).

Without --data the batches are real Chewing-Gum tracks generated in memory (generators.chewing_gum with
its default config), so no dataset is needed. Prints the median of ``--steps`` timed steps after
``--warmup`` untimed ones (model step only: forward, loss, backward, clip, Adam), the time to prepare
one batch from the source (crop + collate, plus shard reading and decoding with --data), and the peak
resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import torch

from savos.config import load_config
from savos.errors import SavosError
from savos.tracks import collate, crop_track, make_tracks
from savos.training.batches import StepBatches
from savos.training.distributed import Dist
from savos.training.methods import METHODS
from savos.training.train import train_step

ROOT = Path(__file__).resolve().parent.parent


def synthetic_batches(config, n: int):
    """n batches of random windows of generated Chewing-Gum clips (pure function of the seed)."""
    import numpy as np

    from generators.chewing_gum import ChewingGumConfig, generate_clip

    gen = ChewingGumConfig.from_dict({"frames": max(16, config.data.window)})
    rng = np.random.default_rng([config.train.seed, 12345])
    clips = [generate_clip(gen, config.train.seed, i, "train") for i in range(8)]
    tracks = [(c, t) for c in clips for t in make_tracks(c, config.data.patch, config.data.enlarge)]
    out = []
    for _ in range(n):
        items = []
        for _ in range(config.train.batch_size):
            clip, track = tracks[int(rng.integers(len(tracks)))]
            t0 = int(rng.integers(0, clip.num_frames - config.data.window + 1))
            items.append(crop_track(clip, track, t0, config.data.window))
        out.append(collate(items))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default=str(ROOT / "recipes" / "gum-cpu.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--data", default=None, help="dataset folder (default: generate tracks in memory)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--stream-vs-disk", type=int, default=0, metavar="N", help="steps of each whole run")
    args = ap.parse_args()
    if args.stream_vs_disk:
        stream_vs_disk(args.recipe, args.overrides, args.stream_vs_disk)
        return

    try:
        config = load_config(args.recipe, args.overrides)
    except SavosError as e:  # a bad recipe or --set: one line, as the CLI
        raise SystemExit(f"error: {e}") from None
    tc = config.train
    if tc.threads:
        torch.set_num_threads(tc.threads)
    n = args.steps + args.warmup
    t0 = time.perf_counter()
    if args.data:
        source = StepBatches(args.data, config.data.train_split, config.data.patch, config.data.enlarge,
                             config.data.window, tc.batch_size, tc.seed)
        batches = [source[s] for s in range(n)]
    else:
        batches = synthetic_batches(config, n)
    t_data = (time.perf_counter() - t0) / n

    torch.manual_seed(tc.seed)
    method = METHODS[config.method]
    model = method.build(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr)
    d = Dist(0, 1, torch.device("cpu"))
    times = []
    for i, batch in enumerate(batches):
        t = time.perf_counter()
        train_step(model, optimizer, batch, method.step, config.loss, lr=tc.lr, grad_clip=tc.grad_clip, d=d)
        if i >= args.warmup:
            times.append(time.perf_counter() - t)

    B, T, _, P, _ = batches[0].rgb.shape
    params = sum(p.numel() for p in model.parameters())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"recipe {args.recipe}: batch {B} x {T} frames x {P}x{P}, {params / 1e6:.2f} M parameters, "
          f"{torch.get_num_threads()} threads")
    print(f"train step: median {statistics.median(times):.3f} s over {len(times)} steps "
          f"(min {min(times):.3f}, max {max(times):.3f})")
    where = f"dataset {args.data}" if args.data else "in memory"
    print(f"batch preparation: {t_data:.3f} s per batch ({where})")
    print(f"peak RSS: {rss_mb:.0f} MB")
    minutes = tc.steps * statistics.median(times) / 60
    print(f"{tc.steps} steps of this recipe: ~{minutes:.1f} min of model steps")


def stream_vs_disk(recipe: str, overrides: list[str], steps: int) -> None:
    import tempfile

    from generators.chewing_gum import ChewingGumConfig, ClipMaker
    from savos.data.writer import write_dataset
    from savos.training.train import train

    tmp = Path(tempfile.mkdtemp(prefix="savos-bench-"))
    gum = ChewingGumConfig()
    write_dataset(tmp / "gum", ClipMaker(gum, 0), {"train": 400, "val": 8},
                  {"generator": "chewing-gum", "version": "bench", "seed": 0, "config": gum.to_dict(),
                   "amodal_flow": True}, workers=1, progress=False)
    common = [*overrides, f"train.steps={steps}", f"train.val_every={steps}", "data.val_clips=8",
              "data.workers=1", "train.max_minutes=0", "train.warmup=0"]
    rates = {}
    for name, data in (("disk", [f"data.root={tmp / 'gum'}"]),
                       ("stream", [f"data.root={ROOT / 'recipes' / 'scenes' / 'gum.yaml'}",
                                   f"data.val_root={tmp / 'stream-val'}"])):
        config = load_config(recipe, [*common, *data])
        from savos.training.sources import prepare_val, resolve

        prepare_val(resolve(config.data.root, config.data.val_root, config.train.seed), "val", 8, False)
        t = time.perf_counter()
        train(config, tmp / f"run-{name}", progress=False)
        rates[name] = steps / (time.perf_counter() - t)
        print(f"{name:>6}: {steps} steps in {steps / rates[name]:.1f} s = {rates[name]:.3f} steps/s")
    print(f"stream / disk: {rates['stream'] / rates['disk']:.3f}")


if __name__ == "__main__":
    main()
