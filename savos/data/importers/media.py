"""Decoding frames: mp4 (any ffmpeg-readable video, through imageio-ffmpeg's bundled ffmpeg) and
folders of PNG/JPEG frames. Every failure is a SavosError naming the file. Encoding: ``write_h264``, the
one H.264 writer of the repo (the sample sources' mp4s, ``encode_h264``: an mp4's bytes, for the
exporters, and ``h264_round_trip``: frames as a lossy video returns them, the generator's
``video_codec: h264``); ``encode_png``: one frame's PNG bytes."""

from __future__ import annotations

import functools
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from savos.errors import SavosError

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def iter_video(path: str | Path, stop: int | None = None) -> Iterator[np.ndarray]:
    """The frames [0, stop) of a video file one at a time, uint8 (H, W, 3) RGB (read-only). Raises
    SavosError if the file is missing, not a video, truncated to no frames, or its frames do not have
    the size its header says."""
    import imageio_ffmpeg  # lazy: only video files need ffmpeg

    path = Path(path)
    if not path.is_file():
        raise SavosError(f"{path}: video file is missing")
    n = 0
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        info = next(reader)
        W, H = (int(x) for x in info["size"])
        for raw in reader:
            if stop is not None and n >= stop:
                break
            if len(raw) != H * W * 3:
                raise SavosError(f"{path}: truncated frame {n} ({len(raw)} bytes, expected "
                                 f"{H * W * 3}); re-download or re-encode the video")
            yield np.frombuffer(raw, np.uint8).reshape(H, W, 3)
            n += 1
    except SavosError:
        raise
    except (OSError, RuntimeError, StopIteration, KeyError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SavosError(f"{path}: cannot decode video ({first}); is it a complete mp4?") from None
    finally:
        if "reader" in locals():
            reader.close()
    if not n:
        raise SavosError(f"{path}: video has no frames (empty or truncated)")


def read_video(path: str | Path) -> np.ndarray:
    """All frames of a video file as uint8 (T, H, W, 3) RGB (the errors of ``iter_video``)."""
    return np.stack(list(iter_video(path)))


class VideoFrames:
    """Frames [start, stop) of a video file of ``shape`` (T, H, W, 3), decoded when iterated (one frame
    in memory at a time); slicing along time gives another window, ``np.asarray`` all of them."""

    def __init__(self, path: Path, shape: tuple[int, int, int, int], start: int = 0, stop: int | None = None):
        self.path, self.full, self.start = Path(path), tuple(shape), start
        self.stop = shape[0] if stop is None else min(stop, shape[0])

    @classmethod
    def open(cls, path: str | Path) -> VideoFrames:
        """Decodes the video once to count and check its frames (keeping none of them)."""
        T, first = 0, None
        for f in iter_video(path):
            first = f.shape if first is None else first
            T += 1
        return cls(Path(path), (T, *first))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (max(self.stop - self.start, 0), *self.full[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, s: slice) -> VideoFrames:
        if not isinstance(s, slice) or s.step not in (None, 1):
            raise TypeError("VideoFrames takes a window of frames (start:stop)")
        start, stop, _ = s.indices(len(self))
        return VideoFrames(self.path, self.full, self.start + start, self.start + max(stop, start))

    def __iter__(self) -> Iterator[np.ndarray]:
        for t, f in enumerate(iter_video(self.path, self.stop)):
            if t >= self.start:
                yield f

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.stack(list(self)) if len(self) else np.zeros(self.shape, np.uint8)


def frame_files(folder: str | Path) -> list[Path]:
    """The image files of a frame folder, in name order (zero-padded names sort by time)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SavosError(f"{folder}: frame folder is missing")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise SavosError(f"{folder}: no .png/.jpg frames in this folder")
    return files


def read_image(path: Path, mode: str = "RGB") -> np.ndarray:
    """One image as uint8 (H, W, 3) (mode "RGB") or its raw indices/values (H, W) (mode "P" or "L")."""

    try:
        with Image.open(path) as im:
            if mode == "RGB":
                return np.asarray(im.convert("RGB"))
            if im.mode == "P" or im.mode == "L":
                return np.asarray(im)
            if im.mode in ("I", "I;16"):
                return np.asarray(im).astype(np.int64)
            raise SavosError(f"{path}: mask image has mode {im.mode}; expected an indexed (P) or "
                             "grey (L) PNG whose values are instance ids")
    except FileNotFoundError:
        raise SavosError(f"{path}: image file is missing") from None
    except (UnidentifiedImageError, OSError) as e:
        raise SavosError(f"{path}: cannot read image ({e})") from None


def read_frames(source: str | Path) -> np.ndarray:
    """uint8 (T, H, W, 3) from a video file or a folder of frames (all frames the same size)."""
    source = Path(source)
    if source.is_dir():
        files = frame_files(source)
        frames = [read_image(p) for p in files]
        for p, f in zip(files, frames, strict=True):
            if f.shape != frames[0].shape:
                raise SavosError(f"{p}: frame size {f.shape[1]}x{f.shape[0]} differs from the first "
                                 f"frame's {frames[0].shape[1]}x{frames[0].shape[0]}")
        return np.stack(frames)
    return read_video(source)


# libx264 at its usual quality (CRF 25, imageio-ffmpeg's default "quality 5"), 4:2:0 chroma as
# FISHBOWL's videos; one encoder thread, so that the bytes do not depend on the machine's core count.
H264 = {"encoder": "libx264", "crf": 25, "pix_fmt": "yuv420p", "fps": 25}


def write_h264(path: str | Path, rgb: np.ndarray, threads: int | None = None) -> None:
    """uint8 (T, H, W, 3) RGB -> an H.264 mp4 at ``path`` (any frame size: no macro-block padding).
    ``threads`` None lets ffmpeg choose."""
    import imageio_ffmpeg  # lazy: only video files need ffmpeg

    T, H, W = rgb.shape[:3]
    if H % 2 or W % 2:
        raise SavosError(f"{path}: H.264 in {H264['pix_fmt']} needs an even frame size, got {H}x{W} (HxW)")
    extra = ["-crf", str(H264["crf"])] + ([] if threads is None else ["-threads", str(int(threads))])
    w = imageio_ffmpeg.write_frames(str(path), (W, H), fps=H264["fps"], codec=H264["encoder"], quality=None,
                                    macro_block_size=1, pix_fmt_out=H264["pix_fmt"], output_params=extra,
                                    ffmpeg_log_level="error")
    w.send(None)
    for f in rgb:
        w.send(np.ascontiguousarray(f))
    w.close()


def encode_h264(rgb: np.ndarray) -> bytes:
    """The bytes of ``write_h264``'s mp4 of ``rgb`` on one thread: deterministic for one ffmpeg build
    (``ffmpeg_version``)."""
    with tempfile.TemporaryDirectory(prefix="savos-h264-") as tmp:
        path = Path(tmp) / "clip.mp4"
        write_h264(path, rgb, threads=1)
        return path.read_bytes()


def h264_round_trip(rgb: np.ndarray) -> np.ndarray:
    """The frames an H.264 video of ``rgb`` decodes to (``write_h264`` on one thread, then
    ``read_video``): deterministic for one ffmpeg build (``ffmpeg_version``)."""
    with tempfile.TemporaryDirectory(prefix="savos-h264-") as tmp:
        path = Path(tmp) / "clip.mp4"
        path.write_bytes(encode_h264(rgb))
        out = read_video(path)
    if out.shape != rgb.shape:
        raise SavosError(f"H.264 round trip returned {out.shape[0]} frames of {out.shape[2]}x{out.shape[1]}, "
                         f"expected {rgb.shape[0]} of {rgb.shape[2]}x{rgb.shape[1]}")
    return out


def encode_png(rgb: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """uint8 (H, W, 3) -> PNG bytes (lossless; deterministic), with ``text`` as tEXt chunks."""
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    """The version of imageio-ffmpeg's ffmpeg (recorded with the frames it encodes)."""
    import imageio_ffmpeg  # lazy: only video files need ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_version())
