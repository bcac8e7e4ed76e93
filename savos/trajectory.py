"""Smooth an object's frame-to-frame motions over time.

A per-frame estimate of an object's similarity motion t -> t-1 from its masks is off by a fraction of a
pixel (a centre-sampled boundary says no more), and the error is different in every frame. Objects move
smoothly, so the motion of frame t is also told by the frames around it: ``smooth_similarities`` fits
each of the motion's four numbers — rotation, log scale, and the displacement of one point fixed on the
object — by a local quadratic in time (a Gaussian window of ``WINDOW`` frames). Each frame votes with its
visible mass over the object's largest (a sliver says little about rotation and scale), and robustly:
Cauchy weights on the residual, the rotation and scale measured by how far they move a point at the
object's radius, so a bounce or a bad frame pulls little on its neighbours (``ROUNDS`` rounds). Frames
the estimator did not fit (too little visible) have no vote; they get the fitted curve's value.

The point fixed on the object is the centroid of its largest visible mask, moved to every other frame by
the estimated motions; its displacement is smooth in time whatever the rotation, unlike the motion's raw
offset b. Shapes as savos.motion: maps (N, T, 2, 3), [A | b] taking frame t to t-1 (index 0 unused),
fitted (N, T) bool, visible (N, T, 1, H, W).
"""

from __future__ import annotations

import math

import torch

from savos.warp import coords_grid

WINDOW = 4.0  # frames: the Gaussian window's standard deviation
ROUNDS = 3  # robust reweighting rounds
SCALE = 0.3  # px: the Cauchy weight's scale on the residual
MIN_SUPPORT = 1.0  # votes in a frame's window (Gaussian-weighted) below which it keeps its own estimate
RIDGE = 1e-6  # added to the normal equations of the local fit


def _params(maps: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """maps (N, T, 2, 3) similarities, centre (N, T, 2) -> (N, T, 4): angle, log scale, and the
    displacement (dx, dy) of the point ``centre``."""
    a = 0.5 * (maps[..., 0, 0] + maps[..., 1, 1])
    b = 0.5 * (maps[..., 1, 0] - maps[..., 0, 1])
    moved = (maps[..., :2] @ centre[..., None])[..., 0] + maps[..., 2]
    angle, log_scale = torch.atan2(b, a), 0.5 * torch.log((a * a + b * b).clamp_min(1e-12))
    return torch.cat([angle[..., None], log_scale[..., None], moved - centre], dim=-1)


def _maps(params: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """The inverse of ``_params``: (N, T, 4), (N, T, 2) -> (N, T, 2, 3)."""
    scale = params[..., 1].exp()
    c, s = scale * params[..., 0].cos(), scale * params[..., 0].sin()
    lin = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (N, T, 2, 2)
    off = centre + params[..., 2:] - (lin @ centre[..., None])[..., 0]
    return torch.cat([lin, off[..., None]], dim=-1)


def _track_point(maps: torch.Tensor, fitted: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """(N, T, 2): the centroid of each object's largest visible mask, carried to every frame by the maps
    (forwards by their inverses); an unfitted frame moves it as the frame before did, as the carry does."""
    N, T, _, H, W = visible.shape
    maps = maps.clone()
    for t in range(2, T):
        maps[:, t] = torch.where(fitted[:, t, None, None], maps[:, t], maps[:, t - 1])
    ref = visible.flatten(2).sum(-1).argmax(1)  # (N,)
    grid = coords_grid(1, H, W, dtype=visible.dtype, device=visible.device).flatten(2)  # (1, 2, HW)
    v = visible[torch.arange(N), ref].flatten(1)  # (N, HW)
    point = (grid * v[:, None]).sum(-1) / v.sum(-1, keepdim=True).clamp_min(1e-6)  # (N, 2)
    lin, off = maps[..., :2], maps[..., 2]
    out = visible.new_zeros(N, T, 2)
    at_ref = torch.arange(T, device=ref.device)[None, :, None] == ref[:, None, None]  # (N, T, 1)
    out = torch.where(at_ref, point[:, None], out)
    for t in range(T - 1, 0, -1):  # frame t -> t-1, for the objects whose reference frame is t or later
        back = (lin[:, t] @ out[:, t, :, None])[..., 0] + off[:, t]
        out[:, t - 1] = torch.where((ref >= t)[:, None], back, out[:, t - 1])
    for t in range(1, T):  # frame t-1 -> t by the inverse of map t, after the reference frame
        ahead = torch.linalg.solve(lin[:, t], out[:, t - 1] - off[:, t])
        out[:, t] = torch.where((ref < t)[:, None], ahead, out[:, t])
    return out


def _local_quadratic(y: torch.Tensor, votes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Robust local quadratic regression in time: y (N, S, D) in px, votes (N, S) >= 0 -> the fitted
    values (N, S, D) and the Gaussian-weighted votes in each frame's window (N, S)."""
    S, dtype = y.shape[1], y.dtype
    t = torch.arange(S, dtype=dtype)
    dt = t[None, :] - t[:, None]  # (S, S): [s, u] = u - s
    kernel = torch.exp(-0.5 * (dt / WINDOW) ** 2)  # (S, S)
    design = torch.stack([torch.ones_like(dt), dt, dt * dt], -1)  # (S, S, 3) around each s
    robust = torch.ones_like(votes)
    for round_ in range(ROUNDS + 1):
        w = kernel[None] * (votes * robust)[:, None, :]  # (N, S, S): weight of u in the fit at s
        normal = torch.einsum("nsu,sui,suj->nsij", w, design, design) + RIDGE * torch.eye(3, dtype=dtype)
        fit = torch.linalg.solve(normal, torch.einsum("nsu,sui,nuk->nsik", w, design, y))[:, :, 0]
        if round_ < ROUNDS:
            residual = (y - fit).norm(dim=-1)  # (N, S) px
            robust = 1.0 / (1.0 + (residual / SCALE) ** 2)
    return fit, (kernel[None] * votes[:, None, :]).sum(-1)


def smooth_similarities(maps: torch.Tensor, fitted: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Similarity motions ``maps`` (N, T, 2, 3) smoothed over time (module docstring); index 0 is kept."""
    T = maps.shape[1]
    if T < 3:
        return maps
    m, vis = maps.to(torch.float64), visible.to(torch.float64)
    centre = _track_point(m, fitted, vis)  # (N, T, 2) the point at frame t
    mass = vis.flatten(2).sum(-1)  # (N, T)
    # angle and log scale in px: how far they move a point at the object's radius
    radius = (mass.amax(1) / math.pi).sqrt().clamp_min(1.0)[:, None, None]  # (N, 1, 1)
    unit = torch.cat([radius.expand(-1, -1, 2), torch.ones_like(radius).expand(-1, -1, 2)], dim=-1)
    y = _params(m, centre)[:, 1:] * unit  # (N, S, 4), S = T-1 steps
    votes = fitted[:, 1:].to(y.dtype) * (mass[:, 1:] / mass.amax(1, keepdim=True).clamp_min(1.0))
    fit, support = _local_quadratic(y, votes)
    enough = (support >= MIN_SUPPORT) & (fitted[:, 1:].sum(-1, keepdim=True) >= 3)
    out = _maps(torch.where(enough[..., None], fit, y) / unit, centre[:, 1:])
    return torch.cat([maps[:, :1], out.to(maps.dtype)], dim=1)
