"""`savos report`: a self-contained results folder from prediction folders and training runs.

    REPORT_DIR/
      index.md                  links everything below
      results.md                the results table (one row per method) under the chosen protocol
      iou_vs_occlusion.png      occluded and full IoU per occlusion-rate bucket, one line per method
      iou_vs_reach.png          occluded IoU against temporal reach (savos.report.reach), and
      iou_vs_reach.md           its table: does a method use time?
      training_curves.png       train and validation losses of every run given (or found)
      clips/clip_NNNNNN.gif     input | visible | ground truth | each method's prediction; where the
                                amodal mask is not known (real data, clip.amodal_known), the ground
                                truth panel says "no amodal truth" instead of drawing a mask
      J_adapt_curves.png        for the J-th folder written by `savos adapt`: learning curves of its
      adapt_clips/J_<key>.gif   first clips, and GIFs before | after adaptation (savos.report.adapt_section)

Inputs are prediction folders (``predictions.json``) or run folders (``config.yaml``). A prediction
folder that has not been scored yet is scored with ``savos eval`` first (against the data root and split
it records). A prediction folder made by ``savos predict`` names its run, whose curves are then drawn.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from savos.atomic import write_bytes_atomic
from savos.data import open_dataset
from savos.data.viz import label_colors, save_figure
from savos.errors import SavosError
from savos.evaluation.evaluate import evaluate, provenance, read_metrics
from savos.evaluation.metrics import PROTOCOLS
from savos.evaluation.predictions import open_predictions
from savos.outputs import OwnedDir, open_output
from savos.readers import read_json
from savos.report.adapt_section import adapt_names, adapt_section
from savos.report.reach import iou_by_reach, pair_reach, plot_reach, reach_table, read_pairs
from savos.training.summary import SUMMARY, read_summary

NO_TRUTH = "no amodal truth"
NO_TRUTH_COLOR = (255, 200, 0)  # text colour: distinct from the masks' white and blue
SCALE = 3  # clip pixels -> GIF pixels

REPORT_FILES = ["index.md", "results.md", "iou_vs_occlusion.png", "iou_vs_reach.png", "iou_vs_reach.md",
                "training_curves.png", "clips"]


@dataclass
class Entry:
    name: str
    pred_dir: Path | None
    run_dir: Path | None
    metrics: dict[str, Any] | None = None


def _classify(paths: list[Path]) -> list[Entry]:

    entries: list[Entry] = []
    for p in paths:
        if (p / "predictions.json").is_file():
            info = open_predictions(p).info
            run_name = info.get("run")  # recorded by `savos predict`; baselines have none
            run = Path(run_name) if run_name and (Path(run_name) / "config.yaml").is_file() else None
            entries.append(Entry(str(info.get("method", p.name)), p, run))
        elif (p / "config.yaml").is_file():
            entries.append(Entry(p.name, None, p))
        else:
            raise SavosError(f"{p}: neither a prediction folder (predictions.json) nor a run folder "
                             "(config.yaml)")
    names = [e.name for e in entries]
    for e in entries:  # two folders of the same method: tell them apart by folder name
        if names.count(e.name) > 1:
            e.name = f"{e.name} ({(e.pred_dir or e.run_dir).name})"
    return entries


def _score(e: Entry, protocol: str, data_root: str | None, split: str, progress: bool = False) -> None:
    """Load the entry's metrics, scoring it first unless cached metrics of exactly these predictions on
    exactly this dataset and split exist (their recorded fingerprint matches)."""

    preds = open_predictions(e.pred_dir)
    root = data_root or preds.info.get("data_root")
    if not root:
        raise SavosError(f"{e.pred_dir}: not scored yet and no data root recorded; pass --data")
    split = preds.info.get("split", split)
    path = e.pred_dir / f"metrics_{protocol}.json"
    if path.is_file():
        cached = read_json(path, "metrics file", "delete it; `savos eval` writes it again")
        if isinstance(cached, dict) and cached.get("fingerprint") == provenance(preds, Path(root), split):
            e.metrics = read_metrics(path)
            return
    result = evaluate(e.pred_dir, root, split, protocol, progress=progress)
    e.metrics = read_metrics(path)
    assert e.metrics["fingerprint"] == result.meta["fingerprint"]


def _has_truth(e: Entry) -> bool:
    """Whether the entry's metrics scored any object-frame (data without amodal truth scores none)."""
    return e.metrics is not None and e.metrics["summary"]["pairs_full"] > 0


def _table(entries: list[Entry], protocol: str) -> str:
    scored = [e for e in entries if e.metrics is not None]
    if scored and not any(_has_truth(e) for e in scored):
        return (f"Protocol `{protocol}` (docs/metrics.md): nothing to score. The data has no amodal truth "
                "for any object-frame (real data records visible masks only), so no mIoU exists; the "
                "clips below show the predictions.\n")
    head = ("| method | full mIoU | occluded mIoU | never-seen mIoU | pair-avg full | pair-avg occluded | "
            "object-frames full / occluded / never-seen |\n|---|---|---|---|---|---|---|\n")
    rows = []
    for e in scored:
        s = e.metrics["summary"]
        f = lambda x: "n/a" if x is None else f"{x:.4f}"  # noqa: E731
        pairs = f"{s['pairs_full']} / {s['pairs_occ']} / {s.get('pairs_never', 0)}"
        rows.append(f"| {e.name} | {f(s['miou_full'])} | {f(s['miou_occ'])} | {f(s.get('miou_never'))} | "
                    f"{f(s['metric2_full'])} | {f(s['metric2_occ'])} | {pairs} |")
    headline = "frame-avg" if PROTOCOLS[protocol].headline == "metric1" else "pair-avg"
    note = (f"Protocol `{protocol}` (docs/metrics.md). mIoU: this protocol's headline, the {headline} "
            "(frame-avg: mean IoU over the objects of a frame, then over frames; pair-avg: mean over all "
            "scored object-frames). Full: IoU of the whole amodal mask; occluded: IoU of its hidden part, "
            "over object-frames whose object is partly hidden; never-seen: IoU on the part of the target "
            "that no frame of its clip shows, over object-frames that have one (what only a shape prior "
            "can complete). n/a: no object-frame of that kind.")
    return note + "\n\n" + head + "\n".join(rows) + "\n"


def _plot_buckets(entries: list[Entry], out: Path) -> None:
    import matplotlib  # lazy: matplotlib is slow to import and only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: with matplotlib above

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for e in entries:
        if not _has_truth(e):
            continue
        rows = [r for r in e.metrics["by_bucket"] if r["subset"] == "all" and r["pairs_full"]]
        x = [float(r["bucket"].strip("[]()").split(",")[0]) + 0.05 for r in rows]
        for ax, key in zip(axes, ("metric2_occ", "metric2_full"), strict=True):
            ax.plot(x, [np.nan if r[key] is None else r[key] for r in rows], marker="o", label=e.name)
    for ax, title in zip(axes, ("occluded IoU", "full IoU"), strict=True):
        ax.set_xlabel("occlusion rate")
        ax.set_ylabel(f"mean {title} (all object-frames)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)


def _train_scalars(run_dir: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Scalars from a run's TensorBoard events (train/*), and validation history from metrics.json."""
    curves: dict[str, tuple[list[int], list[float]]] = {}
    try:
        from tensorboard.backend.event_processing.event_accumulator import (
            EventAccumulator,  # lazy: TensorBoard's reader is slow to import
        )

        acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            if tag in ("train/total", "train/motion", "train/consistency"):
                ev = acc.Scalars(tag)
                curves[tag] = ([e.step for e in ev], [e.value for e in ev])
    except Exception:  # a run without readable events still has its validation history
        pass
    if (run_dir / SUMMARY).is_file():
        hist = read_summary(run_dir)["history"]
        if hist and "loss_total" in hist[0]:
            curves["val/total"] = ([h["step"] for h in hist], [h["loss_total"] for h in hist])
    return curves


def _plot_curves(entries: list[Entry], out: Path) -> bool:
    import matplotlib  # lazy: matplotlib is slow to import and only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: with matplotlib above

    runs = [e for e in entries if e.run_dir is not None]
    if not runs:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = 0
    for e in runs:
        for tag, (steps, values) in _train_scalars(e.run_dir).items():
            keep = [(s, v) for s, v in zip(steps, values, strict=True) if np.isfinite(v) and v > 0]
            if tag not in ("train/total", "val/total") or not keep:
                continue  # only what the log-scale axes can draw gets a legend entry
            xs, ys = zip(*keep, strict=True)
            if tag == "val/total":  # evaluated every val_every steps: markers, so one point shows
                ax.plot(xs, ys, label=f"{e.name} validation loss", linestyle="-", marker="o", markersize=3)
            else:
                ax.plot(xs, ys, label=f"{e.name} training loss", linestyle=":")
            drawn += 1
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    return True


def mask_panel(vis: np.ndarray, mask: np.ndarray, own: np.ndarray, known: bool = True) -> np.ndarray:
    """One GIF panel, upscaled SCALE x: the dimmed visible labels vis (H, W, 3) uint8 with the amodal
    mask (H, W) bool in white, its part on the object's own visible pixels own (H, W) in blue; without
    truth (``known`` False) no mask, and the words NO_TRUTH. -> (SCALE H, SCALE W, 3) uint8."""

    img = (vis // 3).copy()
    if known:
        img[mask] = (255, 255, 255)
        img[mask & own] = (120, 200, 255)
    big = np.repeat(np.repeat(img, SCALE, 0), SCALE, 1)
    if known:
        return big
    im = Image.fromarray(big)
    draw = ImageDraw.Draw(im)
    draw.fontmode = "1"  # no anti-aliasing: the words stay NO_TRUTH_COLOR exactly
    for i, word in enumerate(("no amodal", "truth")):  # two short lines fit narrow clips
        draw.text((2, 2 + 11 * i), word, fill=NO_TRUTH_COLOR)
    return np.asarray(im)


def _clip_gifs(entries: list[Entry], data_root: str, split: str, out_dir: Path, n: int) -> list[Path]:

    preds = [(e.name, open_predictions(e.pred_dir)) for e in entries if e.pred_dir is not None]
    ds = open_dataset(data_root, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(min(n, len(ds))):
        clip = ds[i]
        k = clip.target_ids()[0]
        # (name, masks (T, H, W), known (T,)): predictions are drawn at every frame
        masks = [("ground truth", clip.amodal[:, k], clip.amodal_known[:, k])]
        masks += [(name, p.load(clip.key)[0][:, k], np.ones(clip.num_frames, bool)) for name, p in preds
                  if p.has(clip.key)]
        frames = []
        for t in range(clip.num_frames):
            vis = label_colors(clip.visible[t])
            own = clip.visible[t] == k + 1
            big = lambda x: np.repeat(np.repeat(x, SCALE, 0), SCALE, 1)  # noqa: E731
            panels = [("input", big(clip.rgb[t])), ("visible masks", big(vis))]
            panels += [(name if name == "ground truth" else f"pred: {name}", mask_panel(vis, m[t], own,
                        bool(known[t]))) for name, m, known in masks]
            row = np.concatenate([p for _, p in panels], axis=1)
            im = Image.fromarray(np.pad(row, ((14, 0), (0, 0), (0, 0))))
            draw = ImageDraw.Draw(im)
            w = clip.size[1] * SCALE
            for j, (name, _) in enumerate(panels):
                draw.text((j * w + 2, 1), name[:24], fill=(255, 255, 255))
            frames.append(im)
        buf = io.BytesIO()
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=150, loop=0)
        path = write_bytes_atomic(out_dir / f"{clip.key}.gif", buf.getvalue())
        paths.append(path)
    return paths


def _reach_section(scored: list[Entry], root: str, split: str, protocol: str, out: Path) -> list[str]:
    """Occluded IoU against temporal reach (savos.report.reach): plot, table, index lines."""

    try:
        reach = pair_reach(root, scored[0].metrics.get("split", split))
    except SavosError as e:  # a dataset without motion information: no reach section, say why
        return ["## Occluded IoU against temporal reach", "", f"Not measured: {e}", ""]
    per = {e.name: iou_by_reach(read_pairs(e.pred_dir, protocol), reach) for e in scored}
    plot_reach(per, out / "iou_vs_reach.png")
    table = reach_table(per)
    write_bytes_atomic(out / "iou_vs_reach.md", table.encode())
    return ["## Occluded IoU against temporal reach", "",
            "Reach: frames to the nearest frame where the hidden part is visible (median over its pixels; "
            "object-frames per bucket in brackets). A per-frame method is flat; a method that uses time "
            "is best at small reach.", "", table, "[iou_vs_reach.md](iou_vs_reach.md)", "",
            "![IoU vs reach](iou_vs_reach.png)", ""]


def make_report(inputs: list[str | Path], out_dir: str | Path, *, data_root: str | None = None,
                split: str = "test", protocol: str = "savos", clips: int = 3, overwrite: bool = False,
                progress: bool = False) -> Path:
    """Write the report folder; returns the path of its index.md. An existing report there is replaced
    only with ``overwrite``; ``progress`` shows a bar while unscored predictions are scored."""
    if not inputs:
        raise SavosError("give at least one prediction or run folder")
    with open_output(out_dir, "savos report") as folder:
        return _make_report(inputs, folder, data_root, split, protocol, clips, overwrite, progress)


def _make_report(inputs: list[str | Path], folder: OwnedDir, data_root: str | None, split: str,
                 protocol: str, clips: int, overwrite: bool, progress: bool) -> Path:
    out = folder.path
    if (out / "index.md").exists() and not overwrite:
        raise SavosError(f"--out {out}: holds a report already; pass --overwrite to replace it, or choose "
                         "another --out")
    entries = _classify([Path(p) for p in inputs])
    adapted = [(e.name, e.pred_dir) for e in entries
               if e.pred_dir is not None and (e.pred_dir / "before" / "predictions.json").is_file()]
    names = REPORT_FILES + adapt_names(len(adapted))
    folder.refuse_collisions(names)
    for e in entries:
        if e.pred_dir is not None:
            _score(e, protocol, data_root, split, progress)
    folder.claim(names)
    lines = ["# savos report", ""]
    table = _table(entries, protocol)
    write_bytes_atomic(out / "results.md", table.encode())
    lines += ["## Results", "", table, "[results.md](results.md)", ""]
    if any(_has_truth(e) for e in entries):
        _plot_buckets(entries, out / "iou_vs_occlusion.png")
        lines += ["## IoU against occlusion rate", "", "![IoU vs occlusion](iou_vs_occlusion.png)", ""]
    scored = [e for e in entries if e.metrics]
    root = data_root or (scored[0].metrics.get("data_root") if scored else None)
    with_truth = [e for e in scored if _has_truth(e)]
    if root and with_truth:
        lines += _reach_section(with_truth, root, split, protocol, out)
    if _plot_curves(entries, out / "training_curves.png"):
        lines += ["## Training curves", "", "![training curves](training_curves.png)", ""]
    if root and clips > 0:
        gifs = _clip_gifs(entries, root, split, out / "clips", clips)
        lines += ["## Clips", "", "White: predicted amodal mask; blue: its visible part. Ground truth "
                  f"\"{NO_TRUTH}\": the data has no amodal mask of the object in that frame (real data).", ""]
        lines += [f"- [{g.stem}](clips/{g.name})\n\n  ![{g.stem}](clips/{g.name})" for g in gifs]
        lines.append("")
    if root:
        lines += adapt_section(adapted, root, split, out, clips)
    lines += ["## Sources", ""]
    for e in entries:
        made_by = f"run `{e.run_dir}`" if e.run_dir is not None else "no training run (a baseline)"
        lines.append(f"- {e.name}: predictions `{e.pred_dir}`, {made_by}" if e.pred_dir is not None
                     else f"- {e.name}: run `{e.run_dir}`")
    return write_bytes_atomic(out / "index.md", ("\n".join(lines) + "\n").encode())
