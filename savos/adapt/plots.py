"""Learning curves of test-time adaptation (matplotlib): one clip's (paper Figure 5a), or several side
by side. A log is the dict of ``savos.adapt.loop.AdaptLog.to_dict``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from savos.data.viz import save_figure


def _draw(ax, log: dict, title: str) -> None:
    nan = lambda xs: [np.nan if v is None else v for v in xs]  # noqa: E731
    it = np.arange(len(log["visible_iou"]))
    ax.plot(it, nan(log["visible_iou"]), label="visible-part IoU", color="tab:blue")
    if any(v is not None for v in log["occluded_iou"]):
        ax.plot(it, nan(log["occluded_iou"]), label="occluded IoU (ground truth)", color="tab:red")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("iteration")
    ax.set_ylabel("IoU (crops)")
    ax.grid(alpha=0.3)
    if log["loss"]:
        ax2 = ax.twinx()
        ax2.plot(np.arange(len(log["loss"])), log["loss"], color="0.4", linestyle=":", label="loss")
        ax2.set_ylabel("self-supervised loss")
        ax2.legend(loc="lower right", fontsize=7)
    ax.legend(loc="lower left", fontsize=7)
    ax.set_title(f"{title} ({log['steps']} steps, {log['stopped']})", fontsize=9)


def plot_curve(log: dict, path: str | Path) -> Path:
    """One clip's learning curve: IoUs per evaluation, loss per step (Figure 5a)."""
    import matplotlib  # lazy: matplotlib is slow to import and only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: with matplotlib above

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    _draw(ax, log, log["key"])
    fig.tight_layout()
    return save_figure(fig, Path(path), dpi=90)


def plot_curves(logs: list[tuple[str, dict]], path: Path) -> Path:
    """Several clips' curves side by side: (label, log) pairs, at most 4 per row."""
    import matplotlib  # lazy: matplotlib is slow to import and only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: with matplotlib above

    cols = min(4, len(logs))
    rows = -(-len(logs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows), squeeze=False)
    for ax, (label, log) in zip(axes.flat, logs, strict=False):
        _draw(ax, log, label)
    for ax in list(axes.flat)[len(logs):]:
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)
