"""`savos adapt`: test-time adaptation of a trained run on every clip of a split, each clip on its own.

    savos adapt runs/gum-cpu data/gum-hard --split test --out preds/gum-cpu-tta --workers 2

Per clip (savos/adapt/loop.py): start from the run's weights (best.pt, else last.pt), optimise the
method's own self-supervised loss on that clip alone, stop early on the visible-part IoU, predict. The
settings are the run's ``adapt`` recipe section with ``--set adapt.KEY=VALUE`` overrides. Nothing is
written to the run. The output folder (docs/predictions.md) holds:

    OUT/<clip key>.npz, predictions.json   the adapted predictions (`savos predict` format; `savos eval`)
    OUT/before/                            the run's predictions before adaptation (same format)
    OUT/logs/<clip key>.json               per iteration: loss, visible-part IoU, ground-truth IoUs
    OUT/logs/<clip key>.png                the learning curve (paper Figure 5a)
    OUT/logs/summary.json                  per clip: steps, stop reason, seconds, first/last IoUs
    OUT/logs/tensorboard/                  the same curves for TensorBoard

Clips run in ``--workers`` processes (spawned; each loads the run once and uses ``adapt.threads`` torch
threads). Resumable like `savos predict`: an interrupted run leaves whole files and ``.adapt.json`` (its
settings); the same command skips the clips whose adapted prediction exists.
"""

from __future__ import annotations

import multiprocessing as mp
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from savos.adapt.loop import adapt_clip
from savos.adapt.plots import plot_curve
from savos.atomic import write_json_atomic
from savos.config import ConfigError, apply_overrides, config_from_dict, config_to_dict
from savos.data import fingerprint, open_dataset
from savos.data.shards import sha256_file
from savos.errors import SavosError
from savos.evaluation.predictions import (
    INFO_NAME,
    claim,
    create_prediction_dir,
    write_prediction,
    write_prediction_info,
)
from savos.limits import cap_workers, worker_pool
from savos.outputs import OwnedDir, open_output
from savos.readers import FileFormatError, read_json
from savos.training.checkpoint import find_checkpoint, load_checkpoint, load_weights
from savos.training.distributed import pick_device
from savos.training.methods import METHODS

PENDING_NAME = ".adapt.json"
BEFORE, LOGS, TENSORBOARD, SUMMARY = "before", "logs", "tensorboard", "summary.json"


def parse_clips(text: str | None, n: int) -> list[int]:
    """``"0-4,9"`` -> [0, 1, 2, 3, 4, 9] (clip positions in the split, sorted, unique); None -> all n."""
    if text is None:
        return list(range(n))
    picked: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise SavosError(f"--clips {text}: expected positions like 0-9,12 (first clip is 0)")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if lo > hi or hi >= n:
            raise SavosError(f"--clips {text}: {part.strip()} is not within the split's {n} clips "
                             f"(0-{n - 1})")
        picked.update(range(lo, hi + 1))
    return sorted(picked)


def load_adapt_config(run_dir: str | Path, overrides: tuple[str, ...] | list[str] = ()):
    """-> (Config with the run's settings and ``adapt`` overrides, checkpoint path). Only ``adapt.*``
    may be overridden: the rest describes the trained weights."""
    for text in overrides:
        if not text.strip().startswith("adapt."):
            raise ConfigError(f"--set {text}: savos adapt only takes adapt.* settings (e.g. --set "
                              "adapt.lr=3e-4); the rest of the recipe is the run's")
    path = find_checkpoint(run_dir)
    ckpt = load_checkpoint(path)
    raw = ckpt["config"]
    origins = apply_overrides(raw, overrides)
    config = config_from_dict(raw, source=str(path), origins=origins)
    if METHODS[config.method].supervised:
        raise SavosError(f"{run_dir}: method {config.method!r} is a supervised oracle: its loss needs the "
                         "ground truth, so it cannot adapt at test time; adapt a self-supervised run "
                         f"({', '.join(k for k, m in METHODS.items() if not m.supervised)})")
    load_weights(METHODS[config.method].build(config), ckpt["model"], path)  # one line here, not per worker
    return config, path


_WORKER: dict[str, Any] = {}


def _init_worker(ckpt_path: str, config_dict: dict, data_root: str, split: str, device: str) -> None:
    config = config_from_dict(config_dict, source=ckpt_path)
    if config.adapt.threads:
        torch.set_num_threads(config.adapt.threads)
    dev = pick_device(device, option="--device")
    method = METHODS[config.method]
    model = method.build(config).to(dev)
    state = load_checkpoint(ckpt_path, map_location=dev)["model"]
    _WORKER.update(config=config, method=method, model=model, device=dev, data=open_dataset(data_root, split),
                   initial={k: v.detach().clone() for k, v in state.items()})


def _adapt_one(i: int):
    w, c = _WORKER, _WORKER["config"]
    a = c.adapt
    clip = w["data"][i]
    after, before, log = adapt_clip(
        w["model"], w["method"], clip, w["initial"], patch=c.data.patch, enlarge=c.data.enlarge, loss=c.loss,
        lr=a.lr, max_iters=a.max_iters, patience=a.patience, min_delta=a.min_delta, batch_size=a.batch_size,
        window=a.window, grad_clip=a.grad_clip, seed=(a.seed, i), device=w["device"])
    return clip.key, after, before, log.to_dict()


def _results(todo: list[int], workers: int, init_args: tuple):
    if workers == 1 or len(todo) <= 1:
        _init_worker(*init_args)
        yield from map(_adapt_one, todo)
        return
    # spawn, not fork: a forked child of a process that ran torch's thread pool may hang
    with worker_pool(mp.get_context("spawn"), workers, _init_worker, init_args) as pool:
        yield from pool.imap_unordered(_adapt_one, todo)


def adapt(run_dir: str | Path, data_root: str | Path, split: str, out_dir: str | Path, *,
          clips: str | None = None, overrides: tuple[str, ...] | list[str] = (), workers: int = 1,
          device: str = "cpu", overwrite: bool = False, progress: bool = True) -> Path:
    """Adapt the run to every clip of ``split`` (or the ``clips`` positions) and write OUT (module
    docstring); returns out_dir."""
    with open_output(out_dir, "savos adapt") as folder:
        return _adapt(run_dir, data_root, split, folder.path, clips, overrides, workers, device, overwrite,
                      progress)


def _adapt(run_dir: str | Path, data_root: str | Path, split: str, out_dir: Path, clips: str | None,
           overrides: tuple[str, ...] | list[str], workers: int, device: str, overwrite: bool,
           progress: bool) -> Path:
    config, ckpt_path = load_adapt_config(run_dir, overrides)
    workers = cap_workers(workers)
    pick_device(device, option="--device")  # a missing GPU is one line now, not one per worker
    ds = open_dataset(data_root, split)
    positions = parse_clips(clips, len(ds))
    keys = [ds.locate(i)[1] for i in positions]
    settings = {"method": config.method, "source": str(Path(ckpt_path).resolve()),
                "checkpoint_sha256": sha256_file(Path(ckpt_path)),
                "step": load_checkpoint(ckpt_path)["step"], "data_root": str(Path(data_root).resolve()),
                "dataset_id": fingerprint(data_root), "split": split,
                "clips": None if clips is None else keys, "adapt": asdict(config.adapt),
                "loss": asdict(config.loss)}
    pending = out_dir / PENDING_NAME
    resuming = not overwrite and not (out_dir / INFO_NAME).exists() and _pending(pending) == settings
    before_dir, logs = out_dir / BEFORE, OwnedDir(out_dir / LOGS, "savos adapt")
    if not resuming:
        create_prediction_dir(out_dir, overwrite=overwrite, keys=keys, command="savos adapt")
        claim(out_dir, [PENDING_NAME, BEFORE, LOGS], "savos adapt")
        create_prediction_dir(before_dir, overwrite=True, keys=keys, command="savos adapt")
        logs.path.mkdir(parents=True, exist_ok=True)
        logs.remove(logs.owned())
        _clear_events(logs)
        logs.claim([TENSORBOARD, SUMMARY, *(f"{k}.json" for k in keys), *(f"{k}.png" for k in keys)])
        write_json_atomic(pending, settings)

    todo = [i for i, k in zip(positions, keys, strict=True) if not (out_dir / f"{k}.npz").is_file()]
    from torch.utils.tensorboard import SummaryWriter  # lazy: TensorBoard pulls in torch's writer

    writer = SummaryWriter(str(logs.path / TENSORBOARD))
    bar = tqdm(total=len(positions), initial=len(positions) - len(todo), desc="adapt", unit="clip",
               disable=not progress, dynamic_ncols=True, file=sys.stderr)
    init_args = (str(ckpt_path), config_to_dict(config), str(data_root), split, device)
    try:
        for key, after, before, log in _results(todo, min(workers, max(1, len(todo))), init_args):
            write_prediction(before_dir, key, *before, settings["dataset_id"])
            write_json_atomic(logs.path / f"{key}.json", log)
            plot_curve(log, logs.path / f"{key}.png")
            for name in ("loss", "visible_iou", "occluded_iou", "full_iou"):
                for it, v in enumerate(log[name]):
                    if v is not None and np.isfinite(v):
                        writer.add_scalar(f"{key}/{name}", v, it)
            # last: its presence marks the clip done
            write_prediction(out_dir, key, *after, settings["dataset_id"])
            bar.set_postfix_str(f"{key}: {log['steps']} steps, {log['seconds']:.1f} s ({log['stopped']})")
            bar.update(1)
    finally:
        bar.close()
        writer.close()
    summary = _summarize(logs.path, keys)
    write_json_atomic(logs.path / SUMMARY, summary)
    n_objects = sum(len(ds[i].target_ids()) for i in positions)
    info = {**settings, "run": str(Path(run_dir)), "checkpoint": str(ckpt_path), "num_clips": len(keys),
            "num_objects": n_objects, "threshold": 0.5}
    write_prediction_info(before_dir, {**info, "adapted": False,
                                       "note": "the run's predictions before adaptation (savos adapt)"})
    write_prediction_info(out_dir, {**info, "method": f"{config.method}+tta", "adapted": True,
                                    "mean_steps": summary["mean_steps"],
                                    "mean_seconds": summary["mean_seconds"]})
    pending.unlink(missing_ok=True)
    return out_dir


def _summarize(logs: Path, keys: list[str]) -> dict[str, Any]:
    rows = []
    for key in keys:
        log = read_json(logs / f"{key}.json", "adaptation log", "re-run savos adapt with --overwrite")
        ends = {f"{n}_{w}": (log[n][j] if log[n] else None) for n in ("visible_iou", "occluded_iou")
                for w, j in (("before", 0), ("after", -1))}
        rows.append({"key": key, "steps": log["steps"], "stopped": log["stopped"], "seconds": log["seconds"],
                     **ends})
    def mean(name: str) -> float | None:  # over the clips that have the value (occluded IoU needs truth)
        values = [r[name] for r in rows if r[name] is not None and np.isfinite(r[name])]
        return float(np.mean(values)) if values else None

    return {"clips": rows, "mean_steps": mean("steps"), "mean_seconds": mean("seconds"),
            **{f"mean_{n}_{w}": mean(f"{n}_{w}") for n in ("visible_iou", "occluded_iou")
               for w in ("before", "after")}}


def format_summary(summary: dict[str, Any]) -> str:
    """What `savos adapt` prints when done: the scores before and after adaptation, averaged over clips."""
    f = lambda x: "n/a" if x is None else f"{x:.4f}"  # noqa: E731
    lines = [f"adapted {len(summary['clips'])} clips: {f(summary['mean_steps'])} steps and "
             f"{f(summary['mean_seconds'])} s per clip on average",
             f"  visible-part IoU (what adaptation stops on; no ground truth): before "
             f"{f(summary['mean_visible_iou_before'])}, after {f(summary['mean_visible_iou_after'])}"]
    if summary["mean_occluded_iou_before"] is not None:
        before, after = summary["mean_occluded_iou_before"], summary["mean_occluded_iou_after"]
        lines.append(f"  occluded IoU (ground truth, reporting only): before {f(before)}, after {f(after)}")
    else:
        lines.append("  occluded IoU: n/a (the data has no amodal truth)")
    return "\n".join(lines)


def _clear_events(logs: OwnedDir) -> None:
    """Remove the TensorBoard event files of an earlier run (the folder is savos adapt's)."""
    tb = logs.path / TENSORBOARD
    if TENSORBOARD in logs.owned() and tb.is_dir():
        for p in tb.glob("events.out.tfevents.*"):
            p.unlink()


def _pending(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return read_json(path, "record of an interrupted adaptation run")
    except FileFormatError:
        return None
