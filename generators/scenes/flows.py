"""Exact flows of a scene: the analytic motion of each object (motion.py) at pixel centres, float64
rounded once to float32. The background moves with the camera (world -> frame maps), so a still camera
gives background flow exactly 0.

Inputs: maps float64 (T, K, 2, 3) own -> frame, warps K x ((T-1, 6) or None), camera (T, 2, 3),
visible (T, H, W) labels, amodal bool (T, K, H, W). Rigid and affine scenes take the fast affine path
of generators/render.py (from the rigid poses when the layout knows them: ``render.rigid_motions``, as
Chewing Gum always did); a non-rigid object's pixels are moved point by point (motion.move_points).
"""

from __future__ import annotations

import numpy as np

from generators.geometry import pixel_centres
from generators.render import amodal_flow, motion_maps, rigid_motions, visible_flows
from generators.scenes.motion import is_rigid, move_points


def still(camera: np.ndarray) -> bool:
    """True if the camera never moves (background flow is 0)."""
    return bool((camera == camera[:1]).all())


def scene_flows(maps: np.ndarray, warps: list[np.ndarray | None], camera: np.ndarray, visible: np.ndarray,
                amodal: np.ndarray, pointwise: bool = False, poses: np.ndarray | None = None,
                with_amodal: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """-> flow_fwd, flow_bwd float32 (T-1, H, W, 2) and amodal_flow_fwd float32 (T-1, K, H, W, 2).
    ``pointwise`` moves every pixel through its object's maps one by one even when the scene is affine
    (``savos-gen verify`` does, so that it does not share the generator's fast path). ``poses`` (T, K, 3):
    every object's rigid pose in the frame (still camera), whose motions are exact in closed form.
    ``with_amodal=False`` may skip the amodal flow (None) where it is not needed for the others."""
    T, K, H, W = amodal.shape
    if not pointwise and poses is not None:
        fwd, bwd = rigid_motions(poses)  # (T-1, K, 2, 3)
        aflow = amodal_flow(fwd, amodal[:-1]) if with_amodal else None
        return (*visible_flows(fwd, bwd, visible, aflow), aflow)
    if not pointwise and all(is_rigid(w) for w in warps):
        fwd, bwd = motion_maps(maps)  # (T-1, K, 2, 3)
        aflow = amodal_flow(fwd, amodal[:-1])
        if still(camera):
            return (*visible_flows(fwd, bwd, visible, aflow), aflow)
        cf, cb = motion_maps(camera[:, None])  # the background as object K + 1
        labels = np.where(visible == 0, np.uint8(K + 1), visible)
        f, b = visible_flows(np.concatenate([fwd, cf], 1), np.concatenate([bwd, cb], 1), labels)
        return f, b, aflow
    aflow = np.zeros((T - 1, K, H, W, 2), np.float32)
    for k in range(K):
        _fill(aflow[:, k], amodal[:-1, k], maps[:, k], warps[k], backward=False)
    flow_fwd = np.zeros((T - 1, H, W, 2), np.float32)
    flow_bwd = np.zeros((T - 1, H, W, 2), np.float32)
    for k in range(K):
        mine = visible[:-1] == k + 1
        flow_fwd[mine] = aflow[:, k][mine]
        _fill(flow_bwd, visible[1:] == k + 1, maps[:, k], warps[k], backward=True)
    if not still(camera):
        _fill(flow_fwd, visible[:-1] == 0, camera, None, backward=False)
        _fill(flow_bwd, visible[1:] == 0, camera, None, backward=True)
    return flow_fwd, flow_bwd, aflow


def _fill(out: np.ndarray, where: np.ndarray, maps: np.ndarray, warps: np.ndarray | None,
          backward: bool) -> None:
    """out (T-1, H, W, 2)[where] = displacement of the pixel centres where (T-1, H, W) under the motion
    from frame t to t+1 (backward: from t+1 to t; ``where`` then lies on frame t+1)."""
    H, W = where.shape[1:]
    flat = np.flatnonzero(where)
    t = flat // (H * W)
    pixel = flat - t * (H * W)
    xs, ys = pixel_centres(H, W)
    x, y = xs.take(pixel), ys.take(pixel)
    x1, y1 = move_points(maps, warps, t, x, y, backward=backward)
    row, col = np.divmod(pixel, W)
    out[t, row, col, 0] = (x1 - x).astype(np.float32)  # ``out`` may be a strided view: no reshape
    out[t, row, col, 1] = (y1 - y).astype(np.float32)
