"""Seconds of test-time adaptation per 16-frame 64x64 Chewing-Gum clip on 2 CPU threads (goal: <= 10 s).

    python benchmarks/adapt_speed.py                          # gum-cpu's SaVos, default adapt: settings
    python benchmarks/adapt_speed.py --run runs/gum-cpu       # a trained run (its recipe and weights)
    python benchmarks/adapt_speed.py --recipe recipes/gum-image-ssl.yaml --set adapt.max_iters=20

Clips are generated in memory (generators.chewing_gum, default config: 64x64, 16 frames, 2 targets).
Without --run the weights are the recipe's random initialisation (seeded). For each clip, prints the
wall time of ``adapt_clip`` (evaluation + step per iteration, as `savos adapt` runs it, without the
file writing), the steps taken and why it stopped; then the median seconds per clip and per step.
CPU seconds are printed too: on a shared machine the wall time measures the other processes as well,
and CPU seconds / threads estimates the wall time on otherwise idle cores.
``--no-early-stop`` runs every clip to ``adapt.max_iters`` (the worst case).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.adapt.loop import adapt_clip
from savos.config import apply_overrides, config_from_dict, config_to_dict, load_config
from savos.training.checkpoint import find_checkpoint, load_checkpoint
from savos.training.methods import METHODS

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default=str(ROOT / "recipes" / "gum-cpu.yaml"))
    ap.add_argument("--run", default=None, help="a trained run folder (overrides --recipe)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="adapt.KEY=VALUE")
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-early-stop", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if args.run:
        ckpt = load_checkpoint(find_checkpoint(args.run))
        raw, state = ckpt["config"], ckpt["model"]
    else:
        raw, state = config_to_dict(load_config(args.recipe)), None
    if args.no_early_stop:
        args.overrides.append("adapt.min_delta=0")
    apply_overrides(raw, args.overrides)
    config = config_from_dict(raw, source=args.run or args.recipe)
    method = METHODS[config.method]
    torch.manual_seed(0)
    model = method.build(config)
    if state is not None:
        model.load_state_dict(state)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    a = config.adapt
    gen = ChewingGumConfig.from_dict({})
    print(f"method {config.method}, patch {config.data.patch}, {args.threads} threads, adapt: lr {a.lr}, "
          f"max_iters {a.max_iters}, patience {a.patience}, min_delta {a.min_delta}")
    per_clip, per_step, cpu = [], [], []
    for i in range(args.clips):
        clip = generate_clip(gen, 0, i, "test")
        c0 = time.process_time()
        _, _, log = adapt_clip(model, method, clip, initial, patch=config.data.patch,
                               enlarge=config.data.enlarge, loss=config.loss, lr=a.lr, max_iters=a.max_iters,
                               patience=a.patience, min_delta=a.min_delta, batch_size=a.batch_size,
                               window=a.window, grad_clip=a.grad_clip, seed=(a.seed, i),
                               device=torch.device("cpu"))
        cpu.append(time.process_time() - c0)
        per_clip.append(log.seconds)
        per_step.append(log.seconds / max(1, log.steps))
        print(f"clip {i} ({clip.num_frames} frames {clip.size[0]}x{clip.size[1]}, "
              f"{len(clip.target_ids())} targets): {log.seconds:.2f} s wall, {cpu[-1]:.2f} s CPU, "
              f"{log.steps} steps ({log.stopped}), "
              f"visible IoU {log.visible_iou[0]:.3f} -> {log.visible_iou[-1]:.3f}")
    print(f"median: {statistics.median(per_clip):.2f} s per clip, "
          f"{statistics.median(per_step):.3f} s per step (evaluation + optimizer step); "
          f"{statistics.median(cpu):.2f} CPU-seconds per clip = "
          f"{statistics.median(cpu) / args.threads:.2f} s "
          f"on {args.threads} uncontended threads (the wall time on a loaded machine is longer)")


if __name__ == "__main__":
    main()
