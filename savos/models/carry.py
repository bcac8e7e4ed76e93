"""Carrying what was seen through time: the visible masks of earlier frames, moved to frame t.

SaVos's premise is that the part of an object hidden at frame t was visible at another frame. ``carry``
makes that explicit, with no learned parameter:

    A_0 = V_0,    A_t = max(V_t, max_{s<t} warp(V_s, m_{t->s}))

where ``m_t`` is the object's motion t -> t-1 (living on frame t) extended to every pixel of frame t: the
weighted least-squares *affine* fit (``affine_fit``) of the given flow over the visible mask ``V_t``, and
``m_{t->s}`` the composition of ``m_t, m_{t-1}, ..., m_{s+1}`` (affine maps compose exactly). The
visible flow of a rigid object (translation, rotation, scale) is affine in position, so for such motion
the fit is exact on the hidden part too, and ``A_t`` is the union of everything seen so far, in frame t's
coordinates. Run on the time-reversed track (with the forward flow), it gives what will be seen; the two
together are the whole clip. A frame where the object is barely visible (visible mass below
``min_mass``) reuses the previous frame's motion (constant velocity) rather than a fit on nothing.

Each ``V_s`` is resampled once, straight to frame t. The recursion ``A_t = max(V_t, warp(A_{t-1}, m_t))``
gives the same masks under whole-pixel motion but resamples a mask seen k frames ago k times, and every
bilinear resampling at a sub-pixel offset blurs it a little more: on gum-hard's val split the union
baseline (both directions at 0.8, savos.evaluation.baselines) scored 0.9497 / 0.8823 full / occluded mIoU
recursive, 0.9531 / 0.8974 composed. It costs T(T-1)/2 resamplings per track instead of T - 1.

The fit reads only the *core* of the visible mask (``V_t >= CORE``). In a resampled crop
(savos.tracks) the boundary pixels blend the object's flow with its neighbours' (the background's, an
occluder's), which pulls the fit towards them; the error compounds frame after frame and the carried
masks drift off the object. On the demo set's test crops the union of both directions (at 0.8) scored
0.914 / 0.806 full / occluded mIoU fitted on the soft mask, 0.977 / 0.937 on its core.

SaVos gives ``A_t`` of each direction to its completer (``model.carry``, savos.models.savos): the
forward chain sees only frames <= t and the backward chain only frames >= t, so neither direction's own
prediction at t can read the visible mask its L_M term compares with. ``model.carry_clip`` gives each
completer the other direction's ``A_t`` too: then it can, and L_M rewards copying the carried masks
where they are — which is the right answer wherever the part was seen and the motion is affine. Each
direction then has the whole clip's evidence, so the merge no longer has to find the union of a
direction that saw a part and one that did not.

The motion of each frame comes from an estimator of savos.motion (``motion``; ``model.carry_motion``,
``savos baseline union --motion``): default ``affine-lsq``, the fit above; ``mask-align-smooth`` aligns
the visible masks themselves and smooths the motions over time, which survives estimated flow far better
(docs/estimated-flow.md).

Coordinates follow savos.warp: pixel (r, c) has its centre at x = c, y = r; flow channel 0 is dx.
"""

from __future__ import annotations

import torch

from savos.motion import (  # noqa: F401 (affine_fit, affine_field: re-exported)
    CORE,
    DEFAULT,
    MIN_MASS,
    RIDGE,
    affine_field,
    affine_fit,
    step_motions,
)
from savos.warp import pad_exact, sample_affine


def _after(g: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """g after m, p -> g(m(p)): g (N, S, 2, 3), m (N, 2, 3) -> (N, S, 2, 3)."""
    lin, off = g[..., :2], g[..., 2:]
    return torch.cat([lin @ m[:, None, :, :2], lin @ m[:, None, :, 2:] + off], dim=-1)


def carry(visible: torch.Tensor, flow_back: torch.Tensor, min_mass: float = MIN_MASS,
          motion: str = DEFAULT, others: torch.Tensor | None = None) -> torch.Tensor:
    """The max-accumulated visible masks (module docstring).

    visible (N, T, 1, H, W) in [0, 1]; flow_back (N, T, 2, H, W): the flow from frame t to frame t-1, living
    on t (for a track in normal time order, its ``flow_bwd``); others (N, T, 1, H, W) or None: the other
    objects' visible masks, where the object may be hidden (read by the mask-aligning estimators) ->
    (N, T, 1, H, W), A_t >= V_t. motion: an estimator of savos.motion.MOTIONS.
    """
    N, T, _, H, W = visible.shape
    padded = pad_exact(visible)  # sampled T(T-1)/2 times: pad once
    out = [visible[:, 0]]
    steps, fitted = step_motions(motion, visible, flow_back, others, min_mass)  # (N, T, 2, 3), (N, T)
    step = None
    to_seen = visible.new_zeros(N, 0, 2, 3)  # frame t's pixel -> its position in frames 0..t-1
    for t in range(1, T):
        if step is None:
            step = steps[:, t]  # (N, 2, 3): frame t -> frame t-1
        else:  # too little visible to fit: keep the previous frame's motion
            step = torch.where(fitted[:, t, None, None], steps[:, t], step)
        to_seen = torch.cat([_after(to_seen, step), step[:, None]], dim=1)  # (N, t, 2, 3)
        seen = sample_affine(padded[:, :t].flatten(0, 1), to_seen.flatten(0, 1), (H, W))  # (N t, 1, H, W)
        out.append(torch.maximum(visible[:, t], seen.view(N, t, 1, H, W).amax(1)))
    return torch.stack(out, dim=1)
