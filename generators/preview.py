"""Preview a clip as a GIF or MP4: frame | visible labels | amodal contours | forward flow (colour wheel).

numpy + Pillow for drawing, moviepy for writing.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from savos.atomic import NAME_MAX, temp_path, write_bytes_atomic
from savos.data.clip import Clip
from savos.data.viz import PALETTE, color_wheel, contours, flow_to_rgb, label_colors
from savos.errors import SavosError


def preview_frames(clip: Clip, scale: int = 4, amodal: np.ndarray | None = None) -> list[np.ndarray]:
    """One (H*scale, 4*W*scale, 3) uint8 image per frame; contours of ``amodal`` bool (T, K, H, W)
    (e.g. a prediction) instead of the clip's when given."""
    T, K, H, W = clip.amodal.shape
    amodal = clip.amodal if amodal is None else amodal
    labels = label_colors(clip.visible)
    flows = np.concatenate([clip.flow_fwd, clip.flow_fwd[-1:] * 0], axis=0)  # last frame: no flow
    max_mag = max(float(np.hypot(flows[..., 0], flows[..., 1]).max(initial=0.0)), 1e-6)
    wheel = color_wheel(max(8, H // 4))
    frames = []
    for t in range(T):
        outline = clip.rgb[t].copy() // 2 + 64
        for k in range(K):
            outline[contours(amodal[t, k])] = PALETTE[k % (len(PALETTE) - 1) + 1]
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


        imgs = [Image.fromarray(f) for f in frames]
        buf = io.BytesIO()
        imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=int(1000 / fps),
                     loop=0)
        return write_bytes_atomic(out, buf.getvalue())

    from moviepy import ImageSequenceClip  # lazy: moviepy is slow to import; only .mp4 output needs it

    tmp = temp_path(out)
    tmp = tmp.with_name(tmp.name + suffix)  # ffmpeg picks the format by the suffix
    if len(tmp.name.encode()) > NAME_MAX:  # name the user's file, not the temporary one
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(out))
    try:
        ImageSequenceClip(list(frames), fps=fps).write_videofile(str(tmp), codec="libx264", logger=None,
                                                                 audio=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
