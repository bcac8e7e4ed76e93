"""Preview a clip as a GIF or MP4: frame | visible labels | amodal contours | forward flow (colour wheel).

numpy + Pillow for drawing, moviepy for writing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from savos.data.clip import Clip
from savos.errors import SavosError

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


def preview_frames(clip: Clip, scale: int = 4) -> list[np.ndarray]:
    """One (H*scale, 4*W*scale, 3) uint8 image per frame."""
    T, K, H, W = clip.amodal.shape
    labels = label_colors(clip.visible)
    flows = np.concatenate([clip.flow_fwd, clip.flow_fwd[-1:] * 0], axis=0)  # last frame: no flow
    max_mag = max(float(np.hypot(flows[..., 0], flows[..., 1]).max(initial=0.0)), 1e-6)
    wheel = color_wheel(max(8, H // 4))
    frames = []
    for t in range(T):
        outline = clip.rgb[t].copy() // 2 + 64
        for k in range(K):
            outline[contours(clip.amodal[t, k])] = PALETTE[k % (len(PALETTE) - 1) + 1]
        flow_img = flow_to_rgb(flows[t], max_mag)
        flow_img[: wheel.shape[0], : wheel.shape[1]] = wheel
        row = np.concatenate([clip.rgb[t], labels[t], outline, flow_img], axis=1)
        frames.append(np.repeat(np.repeat(row, scale, axis=0), scale, axis=1))
    return frames


def write_video(frames: list[np.ndarray], out: str | Path, fps: int = 8) -> Path:
    """Write frames to ``out`` (.gif or .mp4)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise SavosError(f"{out}: preview must end in .gif or .mp4")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        from PIL import Image

        imgs = [Image.fromarray(f) for f in frames]
        imgs[0].save(out, save_all=True, append_images=imgs[1:], duration=int(1000 / fps), loop=0)
        return out
    from moviepy import ImageSequenceClip

    ImageSequenceClip(list(frames), fps=fps).write_videofile(str(out), codec="libx264", logger=None,
                                                             audio=False)
    return out
