"""Optical flow for real videos: estimated with OpenCV (no download, no GPU), or read from Middlebury
``.flo`` files (FlowNet2's output, as the original SaVos used it).

Estimated flow is never exact. ``benchmarks/real_flow_error.py`` measures its end-point error against
the exact flow of textured Chewing-Gum clips; docs/dataset-card.md gives the numbers. Conventions are
the Clip's: (dx, dy) in pixels; ``flow_fwd[t]`` lives on frame t (t -> t+1), ``flow_bwd[t]`` on frame
t+1 (t+1 -> t).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from savos.data.clip import flow_problem
from savos.errors import SavosError

FLO_MAGIC = np.float32(202021.25)
# OpenCV estimators; "dis-fine" (DIS medium refined down to full resolution) measured best and
# "dis-medium" best per second (benchmarks/real_flow_error.py; numbers in docs/dataset-card.md).
METHODS = ("dis-medium", "dis-fine", "dis-fast", "farneback")
DEFAULT_METHOD = "dis-fine"


def _estimator(method: str):
    import cv2  # lazy: OpenCV is slow to import; only this path needs it

    cv2.setNumThreads(1)  # one thread per worker process: the writer parallelises over shards
    if method == "farneback":
        def farneback(a, b):
            return cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=4, winsize=15,
                                                iterations=5, poly_n=5, poly_sigma=1.1, flags=0)
        return farneback
    presets = {"dis-medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, "dis-fine": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
               "dis-fast": cv2.DISOPTICAL_FLOW_PRESET_FAST}
    if method not in presets:
        raise SavosError(f"unknown flow method {method!r}; choose one of {', '.join(METHODS)}")
    dis = cv2.DISOpticalFlow_create(presets[method])
    if method == "dis-fine":
        dis.setFinestScale(0)  # the medium preset stops at 1/2 resolution

    def run(a, b):
        return dis.calc(a, b, None)
    return run


def estimate_flow(rgb: np.ndarray, method: str = DEFAULT_METHOD) -> tuple[np.ndarray, np.ndarray]:
    """rgb uint8 (T, H, W, 3) -> (flow_fwd, flow_bwd), float32 (T-1, H, W, 2) each."""
    import cv2  # lazy: OpenCV is slow to import; only this path needs it

    assert rgb.ndim == 4 and rgb.shape[-1] == 3, rgb.shape
    calc = _estimator(method)
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in rgb]
    T, H, W = rgb.shape[:3]
    fwd = np.empty((T - 1, H, W, 2), np.float32)
    bwd = np.empty((T - 1, H, W, 2), np.float32)
    for t in range(T - 1):
        fwd[t] = calc(grey[t], grey[t + 1])
        bwd[t] = calc(grey[t + 1], grey[t])
    return fwd, bwd


class FlowEstimator:
    """The estimated flow of a video given frame by frame: ``push(rgb)`` takes the next uint8 (H, W, 3)
    frame and returns (fwd, bwd) of the pair it closes (None for the first frame), float32 (H, W, 2)
    each, the Clip's flow_fwd[t] and flow_bwd[t]: the values ``estimate_flow`` gives. (DIS reads a
    flow buffer it is given as its first guess, so each pair gets fresh arrays, as there.)"""

    def __init__(self, method: str = DEFAULT_METHOD):
        self.calc = _estimator(method)
        self.prev: np.ndarray | None = None

    def push(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        import cv2  # lazy: OpenCV is slow to import; only this path needs it

        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        prev, self.prev = self.prev, grey
        if prev is None:
            return None
        return self.calc(prev, grey), self.calc(grey, prev)


def flow_meta(method: str) -> dict:
    """What ``meta["flow"]`` records about estimated flow."""
    import cv2  # lazy: OpenCV is slow to import; only this path needs it

    return {"method": f"opencv-{method}", "exact": False, "opencv": cv2.__version__,
            "error": "see docs/dataset-card.md (benchmarks/real_flow_error.py)"}


FLOW_STEPS = 8  # estimated flow is stored rounded to 1/8 px (error <= 1/16 px, far below the estimator's)


def round_flow(flow: np.ndarray, inplace: bool = False) -> np.ndarray:
    """Round to 1/FLOW_STEPS px: dense estimated flow then compresses 2.4x better in the shards (its
    1/64 px codec steps would store the estimator's noise)."""
    out = np.multiply(flow, np.float32(FLOW_STEPS), out=flow if inplace else None, dtype=np.float32)
    np.rint(out, out=out)
    out *= np.float32(1 / FLOW_STEPS)  # exact: a power of two
    return out


def stored_estimate(rgb: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """The estimated flow as a dataset stores it: ``estimate_flow`` rounded by ``round_flow``, and its
    ``meta["flow"]`` record. ``savos-gen import`` (no flow files given) and the scene generator's ``flow:``
    key both store exactly this."""
    fwd, bwd = estimate_flow(rgb, method)
    meta = stored_meta(method)
    return round_flow(fwd, inplace=True), round_flow(bwd, inplace=True), meta


def stored_meta(method: str) -> dict:
    """``meta["flow"]`` of estimated flow as a dataset stores it (``stored_estimate``)."""
    return {**flow_meta(method), "rounded_to_px": 1 / FLOW_STEPS}


def read_flo(path: str | Path) -> np.ndarray:
    """One Middlebury ``.flo`` file -> float32 (H, W, 2), every value finite and known (the Clip's
    ``flow_problem``: NaN, inf and the Middlebury "unknown" marker, |v| >= 1e9, are refused, naming the
    file: savos stores dense flow, and never turns an unknown value into a number)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SavosError(f"{path}: flow file is missing") from None
    if len(data) < 12 or np.frombuffer(data, np.float32, 1)[0] != FLO_MAGIC:
        raise SavosError(f"{path}: not a Middlebury .flo file (bad magic number)")
    w, h = (int(x) for x in np.frombuffer(data, np.int32, 2, offset=4))
    if w <= 0 or h <= 0 or len(data) != 12 + 8 * w * h:
        raise SavosError(f"{path}: .flo header says {w}x{h} but the file has {len(data)} bytes (truncated?)")
    flow = np.frombuffer(data, np.float32, offset=12).reshape(h, w, 2).copy()
    problem = flow_problem(flow)
    if problem is not None:
        raise SavosError(f"{path}: {problem}; savos stores dense, known flow: fill these pixels in the "
                         "file, or remove the video's .flo folder to let savos estimate the flow")
    return flow


def read_flo_folder(folder: str | Path, count: int, size: tuple[int, int]) -> np.ndarray:
    """The first ``count`` ``.flo`` files of a folder in name order -> float32 (count, H, W, 2)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.flo")) if folder.is_dir() else []
    if len(files) < count:
        raise SavosError(f"{folder}: {len(files)} .flo files, the video needs {count} (one per frame pair)")
    flows = []
    for p in files[:count]:
        f = read_flo(p)
        if f.shape[:2] != tuple(size):
            raise SavosError(f"{p}: flow is {f.shape[1]}x{f.shape[0]}, the video {size[1]}x{size[0]}")
        flows.append(f)
    return np.stack(flows)


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float32 (N, H, W, 2) -> (N, h, w, 2): bilinear resampling, vectors scaled to the new pixels."""
    import cv2  # lazy: OpenCV is slow to import; only this path needs it

    N, H, W = flow.shape[:3]
    h, w = size
    if (h, w) == (H, W):
        return flow
    out = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in flow])
    out[..., 0] *= w / W
    out[..., 1] *= h / H
    return out.astype(np.float32)
