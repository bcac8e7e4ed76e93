"""A tiny hand-made clip factory for format tests (independent of the generators)."""

from __future__ import annotations

import numpy as np

from savos.data.clip import Clip


def toy_clip(index: int, split: str = "train", seed: int = 0, T: int = 5, H: int = 12, W: int = 16,
             amodal_flow: bool = True) -> Clip:
    """A square (object 1) sliding right under a fixed bar (object 2), with exact flow."""
    rng = np.random.default_rng([seed, index])
    K = 2
    x0 = int(rng.integers(0, 4))
    amodal = np.zeros((T, K, H, W), bool)
    for t in range(T):
        amodal[t, 0, 2:8, x0 + t: x0 + t + 6] = True
    amodal[:, 1, 4:6, :] = True  # the bar, in front
    visible = np.zeros((T, H, W), np.uint8)
    visible[amodal[:, 0]] = 1
    visible[amodal[:, 1]] = 2
    rgb = np.zeros((T, H, W, 3), np.uint8)
    rgb[visible == 1] = rng.integers(0, 255, 3, dtype=np.uint8)
    rgb[visible == 2] = (10, 200, 30)
    flow_fwd = np.zeros((T - 1, H, W, 2), np.float32)
    flow_fwd[..., 0] = (visible[:-1] == 1) * 1.0
    flow_bwd = np.zeros((T - 1, H, W, 2), np.float32)
    flow_bwd[..., 0] = (visible[1:] == 1) * -1.0
    aflow = None
    if amodal_flow:
        aflow = np.zeros((T - 1, K, H, W, 2), np.float32)
        aflow[:, 0, ..., 0] = amodal[:-1, 0] * 1.0
        aflow[:, 0, ..., 1] = amodal[:-1, 0] * float(rng.normal()) * 0.3  # non-integer values too
    meta = {"generator": "toy", "version": "0", "config": {}, "seed": seed, "split": split, "index": index,
            "objects": [{"role": "target", "shape": "square", "color": rgb[0][visible[0] == 1][0].tolist()},
                        {"role": "occluder", "shape": "bar", "color": [10, 200, 30]}]}
    return Clip(rgb, visible, amodal, flow_fwd, flow_bwd, aflow, meta)


def make_toy(index: int, split: str) -> Clip:
    return toy_clip(index, split)
