"""The `savos report` section for folders written by `savos adapt`: before/after GIFs of the first clips
and their learning curves (paper Figure 5a)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from savos.adapt.plots import plot_curves
from savos.adapt.split import BEFORE, LOGS
from savos.atomic import write_bytes_atomic
from savos.data import open_dataset
from savos.data.viz import label_colors
from savos.evaluation.predictions import open_predictions
from savos.readers import read_json

CURVES_NAME, GIFS_NAME = "adapt_curves.png", "adapt_clips"  # in the report folder


def before_after_gif(clip, before: np.ndarray, after: np.ndarray, path: Path, label: str) -> Path:
    """GIF of one clip's first target: input | visible | ground truth | before | after adaptation.

    before, after: bool (T, H, W) masks of that target.
    """
    k = clip.target_ids()[0]
    frames = []
    for t in range(clip.num_frames):
        vis = label_colors(clip.visible[t])
        panels = [("input", clip.rgb[t]), ("visible", vis)]
        for name, m in (("ground truth", clip.amodal[t, k]), ("before", before[t]), ("after", after[t])):
            img = (vis // 3).copy()
            img[m] = (255, 255, 255)
            img[m & (clip.visible[t] == k + 1)] = (120, 200, 255)
            panels.append((name, img))
        row = np.concatenate([np.repeat(np.repeat(p, 3, 0), 3, 1) for _, p in panels], axis=1)
        im = Image.fromarray(np.pad(row, ((14, 0), (0, 0), (0, 0))))
        draw = ImageDraw.Draw(im)
        for j, (name, _) in enumerate(panels):
            draw.text((j * clip.size[1] * 3 + 2, 1), name, fill=(255, 255, 255))
        frames.append(im)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=150, loop=0,
                   comment=label.encode())
    return write_bytes_atomic(path, buf.getvalue())


def adapt_names(n: int) -> list[str]:
    """Names `savos report` writes for ``n`` adapted folders (claimed before writing)."""
    return [GIFS_NAME, *(f"{j}_{CURVES_NAME}" for j in range(n))] if n else []


def adapt_section(pred_dirs: list[tuple[str, Path]], data_root: str, split: str, out: Path,
                  clips: int) -> list[str]:
    """Report lines (and files) for folders written by `savos adapt`: per folder, up to ``clips`` GIFs
    before/after and one figure of their learning curves. [] when none is given."""
    if not pred_dirs or clips <= 0:
        return []
    ds = open_dataset(data_root, split)
    by_key = {ds.locate(i)[1]: i for i in range(len(ds))}
    lines = ["## Test-time adaptation", "",
             "Learning curves per clip (Figure 5a): visible-part IoU (what early stopping watches), "
             "ground-truth occluded IoU (analysis only) and the self-supervised loss. GIFs: input | "
             "visible | ground truth | before | after adaptation (white: amodal mask; blue: its visible "
             "part).", ""]
    for j, (name, pred_dir) in enumerate(pred_dirs):
        after, before = open_predictions(pred_dir), open_predictions(pred_dir / BEFORE)
        keys = [k for k in after.keys() if k in by_key][:clips]
        logs = [(k, read_json(pred_dir / LOGS / f"{k}.json", "adaptation log")) for k in keys]
        curves = plot_curves(logs, out / f"{j}_{CURVES_NAME}") if logs else None
        lines += [f"### {name}", ""]
        if curves is not None:
            lines += [f"![learning curves]({curves.name})", ""]
        for key in keys:
            clip = ds[by_key[key]]
            k = clip.target_ids()[0]
            gif = before_after_gif(clip, before.load(key)[0][:, k], after.load(key)[0][:, k],
                                   out / GIFS_NAME / f"{j}_{key}.gif", f"{name} {key}")
            lines += [f"- {key}\n\n  ![{key}]({GIFS_NAME}/{gif.name})"]
        lines.append("")
    return lines
