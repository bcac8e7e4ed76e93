"""Pictures of clips: label maps, flow colour wheel, contours (numpy), and saving a matplotlib figure."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from savos.atomic import write_bytes_atomic

PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
                    [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]],
                   dtype=np.uint8)


def label_colors(visible: np.ndarray) -> np.ndarray:
    """(…, H, W) int labels -> (…, H, W, 3) uint8; 0 is black, object k a fixed distinct colour."""
    return PALETTE[np.where(visible == 0, 0, (visible - 1) % (len(PALETTE) - 1) + 1)]


def flow_to_rgb(flow: np.ndarray, max_mag: float | None = None) -> np.ndarray:
    """(…, 2) flow (dx, dy) -> (…, 3) uint8: hue = direction, saturation = magnitude / max_mag."""
    dx, dy = flow[..., 0], flow[..., 1]
    mag = np.hypot(dx, dy)
    max_mag = float(max_mag if max_mag is not None else max(mag.max(initial=0.0), 1e-6))
    h = (np.arctan2(-dy, -dx) / np.pi + 1.0) / 2.0  # [0, 1]
    s = np.clip(mag / max_mag, 0.0, 1.0)
    v = np.ones_like(s)
    i = np.floor(h * 6.0).astype(int) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return (np.stack([r, g, b], axis=-1) * 255).round().astype(np.uint8)


def color_wheel(size: int) -> np.ndarray:
    """(size, size, 3) uint8 legend of flow_to_rgb for |flow| <= 1 (white outside the disc)."""
    c = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    flow = np.stack([(x - c) / c, (y - c) / c], axis=-1)
    img = flow_to_rgb(flow, max_mag=1.0)
    img[np.hypot(*np.moveaxis(flow, -1, 0)) > 1] = 255
    return img


def contours(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, W) bool boundary pixels (inside the mask, 4-neighbour of outside)."""
    m = np.pad(mask, 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask & ~inner


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write a matplotlib figure as a PNG, atomically, and close it."""
    import matplotlib.pyplot as plt  # lazy: matplotlib is slow to import and only plots need it

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return write_bytes_atomic(Path(path), buf.getvalue())
