"""Occluded IoU against temporal reach: does a method use time?

The reach of an object-frame is the median, over its hidden pixels, of the distance in frames to the
nearest frame where that point of the object is visible (``savos.data.guessability``: ``reach_median``;
infinite when more than half of the hidden points are never seen). A per-frame method can only guess
the hidden part from its visible part, whatever the reach; a method that carries shape through time
should do best at reach 1-2 and degrade as the reach grows. ``savos report`` plots this for every method.

Pairs are those the protocol scores on the occluded region (``selected & occ_valid`` of the records in
``pairs_<protocol>.csv.gz``, written by ``savos eval``).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import numpy as np

from savos.data import open_dataset
from savos.data.guessability import clip_guessability
from savos.data.viz import save_figure
from savos.errors import SavosError

# (upper bound of the median reach, label); the last bucket holds the never-seen object-frames
REACH_BUCKETS = ((1.0, "1"), (2.0, "2"), (4.0, "3-4"), (8.0, "5-8"), (math.inf, "9+"))
NEVER = "never seen"
LABELS = [label for _, label in REACH_BUCKETS] + [NEVER]


def reach_label(median: float) -> str:
    """The bucket label of an object-frame's median reach (>= 1, or inf)."""
    if math.isinf(median):
        return NEVER
    return next(label for bound, label in REACH_BUCKETS if median <= bound)


def pair_reach(data_root: str | Path, split: str) -> dict[tuple[str, int, int], float]:
    """{(clip key, object k, frame t): median reach} for every target object-frame with hidden pixels of
    the split's clips. Raises SavosError if the dataset has no motion information (no vertices or amodal
    flow)."""

    ds = open_dataset(data_root, split)
    out: dict[tuple[str, int, int], float] = {}
    for i in range(len(ds)):
        clip = ds[i]
        g = clip_guessability(clip)
        if g.reach_median is None:
            raise SavosError(f"{data_root}: clip {clip.key} has no motion to follow (no vertices or amodal "
                             "flow); the temporal reach cannot be measured")
        for k, t, n, r in zip(g.object, g.frame, g.hidden, g.reach_median, strict=True):
            if n:
                out[(clip.key, int(k), int(t))] = float(r)
    return out


def read_pairs(pred_dir: str | Path, protocol: str) -> list[dict[str, str]]:
    """The per-pair records ``savos eval`` wrote (``pairs_<protocol>.csv.gz``), as CSV rows."""
    path = Path(pred_dir) / f"pairs_{protocol}.csv.gz"
    try:
        text = gzip.decompress(path.read_bytes()).decode()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise SavosError(f"{path}: cannot read the per-pair scores ({e}); run `savos eval` again") from None
    return list(csv.DictReader(io.StringIO(text)))


def iou_by_reach(rows: list[dict[str, str]], reach: dict[tuple[str, int, int], float]) -> list[dict]:
    """Mean occluded IoU per reach bucket: [{"reach": label, "pairs": n, "miou_occ": mean or None}]."""
    values: dict[str, list[float]] = {label: [] for label in LABELS}
    for row in rows:
        if row["selected"] != "True" or row["occ_valid"] != "True":
            continue
        key = (row["clip"], int(row["object"]), int(row["frame"]))
        if key in reach:
            values[reach_label(reach[key])].append(float(row["iou_occ"]))
    return [{"reach": label, "pairs": len(v), "miou_occ": float(np.mean(v)) if v else None}
            for label, v in values.items()]


def reach_table(per_method: dict[str, list[dict]]) -> str:
    """Markdown: one row per method, one column per reach bucket (mean occluded IoU, pairs below)."""
    first = next(iter(per_method.values()))
    head = "| method | " + " | ".join(f"reach {r['reach']} ({r['pairs']})" for r in first) + " |\n"
    head += "|---|" + "---|" * len(first) + "\n"
    rows = ["| " + name + " | " + " | ".join("n/a" if r["miou_occ"] is None else f"{r['miou_occ']:.4f}"
                                             for r in by) + " |" for name, by in per_method.items()]
    return head + "\n".join(rows) + "\n"


def plot_reach(per_method: dict[str, list[dict]], out: Path) -> None:
    """iou_vs_reach.png: mean occluded IoU per reach bucket, one line per method."""
    import matplotlib  # lazy: matplotlib is slow to import and only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: with matplotlib above

    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(LABELS))
    for name, by in per_method.items():
        ax.plot(x, [np.nan if r["miou_occ"] is None else r["miou_occ"] for r in by], marker="o", label=name)
    ax.set_xticks(x, LABELS)
    ax.set_xlabel("temporal reach: frames to the nearest view of the hidden part (median)")
    ax.set_ylabel("mean occluded IoU")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
