"""The SaVos self-supervised loss (paper eq. 3-7) and the supervised loss of the video oracle.

For one prediction chain (masks M̃_t and motions Δ_t, t -> t+1, in that chain's time order) and each
pair (t, t+1) where the object is visible at both frames:

- ``M̂_{t+1} = warp_forward(M̃_t, Δ_t)`` (eq. 2; see savos.warp for the backward-sampling form).
- L_M (eq. 3-5): mean over pixels of ``W ⊙ BCE(M̂_{t+1}, V_{t+1})`` with ``W = 1 - others_{t+1}``
  (= 1 - Σ_i V^i + V^k): the regions hidden by other objects at t+1 give no signal.
- L_C (eq. 6): ``1 - softIoU(M̃_{t+1}, M̂_{t+1})`` (Diff-IoU), i.e. the prediction at t+1 against the
  one warped from t with the motion of t -> t+1 (the original used the motion one frame off).
  Gradients reach both sides, the motion predictor included.

Each term is summed over valid (object, pair) pairs and divided by their number (not summed
cumulatively over time as in the original); with no valid pair it is 0.

Hidden mass (``loss.lambda3`` > 0, our extension): ``L_O``, the mean over valid frames of the mean over
pixels of ``M̃_t ⊙ others_t`` (merged and own predictions, weighted as above), is added with weight
lambda3. Nothing in L_M or L_C costs a mask grown into a region that no frame in reach reveals, and
under a large occluder the network learns to fill it; L_O makes every hidden pixel cost a little, so the
mask goes there only where the visible masks of other frames pay for it.

Visible term (``loss.lambda0`` > 0, our extension): ``L_V``, the mean over valid frames of the masked BCE
of M̃_t against V_t outside the other objects at t (``W_t = 1 - others_t``, as in eq. 5), merged and own
predictions weighted as below. It is L_M's k = 0: where nothing covers the object, its amodal mask is its
visible mask, and this is the one comparison that no warp blurs. L_M alone sees every mask through a
bilinear warp with a predicted motion, which spreads a thin part over two pixels; the network makes up
for it by fattening the mask, by about a pixel on every edge, hidden edges included.

Horizon (``loss.horizon`` = H > 1, our extension): L_M also moves M̃_t on, frame by frame with the
predicted motions, to t+k for k = 2..H, and compares it with V_{t+k} outside the other objects at t+k,
over the (t, t+k) whose frames t..t+k are all valid; L_M is then the mean of the H horizons' means. At
k = 1 a mask grown into a region that stays hidden at t+1 costs nothing; most hidden parts are revealed a
few frames later (docs/dataset-card.md: 19 % of hidden pixels are visible at t±1, 57 % within ±4), and
then a part predicted there that is not there is seen to be background.

Bidirectional outputs. Four chains enter each loss: the merged prediction M̃ (eq. 8) moved by the
forward motion over forward pairs and by the backward motion over reversed pairs, and each direction's
own prediction moved by its own motion. The merged chains train α and make the merged mask — the one
that is evaluated — self-consistent; the own chains keep each direction a complete predictor, so the
softmax cannot starve one direction of gradient. ``merged_weight`` balances the two (0.5 by default).
The ground truth ``batch.amodal`` never enters ``savos_loss`` (tests/test_losses.py fills it with NaN
where it is unknown and checks that the loss and its gradient do not change).

``supervised_loss`` (the video oracle) reads ``batch.amodal`` only at pairs that are valid and known
(``batch.known``: real data is partly annotated); elsewhere the target is replaced by 0 before the BCE,
so whatever an unknown pair holds (even NaN) reaches neither the loss nor its gradient.
"""

from __future__ import annotations

import torch

from savos.models.savos import SaVosOutput
from savos.tracks import TrackBatch
from savos.warp import warp_forward

_EPS = 1e-6


def bce(p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Elementwise binary cross-entropy of probabilities p against soft targets in [0, 1]."""
    p = p.clamp(_EPS, 1.0 - _EPS)
    return -(target * p.log() + (1.0 - target) * (1.0 - p).log())


def soft_iou_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Diff-IoU: 1 - Σab / Σ(a + b - ab) over the last three dims; (..., C, Ph, Pw) -> (...).

    Two empty masks agree: loss 0.
    """
    inter = (a * b).sum(dim=(-3, -2, -1))
    union = (a + b - a * b).sum(dim=(-3, -2, -1))
    return 1.0 - (inter + _EPS) / (union + _EPS)


def _later_horizons(warped: torch.Tensor, motion: torch.Tensor, visible: torch.Tensor, others: torch.Tensor,
                    valid: torch.Tensor, horizon: int) -> torch.Tensor:
    """Sum over k = 2..horizon of the mean masked BCE of M̃_t moved to t+k (module docstring), (C,).

    warped (B, T-1, C, Ph, Pw): M̃_t moved to t+1, for t = 0..T-2; the rest as in ``chain_terms``."""
    T, C = visible.shape[1], warped.shape[2]
    total = warped.new_zeros(C)
    run = valid[:, :-1] & valid[:, 1:]  # (B, T-1): frames t..t+k all valid, for k = 1
    cur = warped
    for k in range(2, min(horizon, T - 1) + 1):
        # cur (B, T-k+1, C, ...) holds M̃_t at frame t+k-1; move it on with the motion of frame t+k-1
        B, L = cur.shape[:2]
        cur = warp_forward(cur[:, :-1].flatten(0, 1), motion[:, k - 1 : T - 1].flatten(0, 1))
        cur = cur.view(B, L - 1, C, *cur.shape[-2:])  # (B, T-k, C, Ph, Pw): M̃_t at t+k
        run = run[:, :-1] & valid[:, k:]  # (B, T-k)
        lm = ((1.0 - others[:, k:]) * bce(cur, visible[:, k:])).mean(dim=(-2, -1))  # (B, T-k, C)
        n = run.sum()
        lm = torch.where(run[:, :, None], lm, torch.zeros_like(lm)).sum(dim=(0, 1))  # (C,)
        total = total + lm / n.clamp_min(1).to(lm.dtype)
    return total


def chain_terms(
    masks: torch.Tensor,
    motion: torch.Tensor,
    visible: torch.Tensor,
    others: torch.Tensor,
    valid: torch.Tensor,
    horizon: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """L_M and L_C sums over the valid pairs (t, t+1) of C prediction chains sharing one motion.

    masks (B, T, C, Ph, Pw) probabilities M̃ of C chains; motion (B, T, 2, Ph, Pw) Δ_t, t -> t+1 on frame t;
    visible, others (B, T, 1, Ph, Pw); valid bool (B, T).
    Returns (lm (C,), lc (C,)) sums over valid pairs, and the number of valid pairs (a scalar). With
    ``horizon`` > 1, lm is n times the mean over horizons of each horizon's mean (module docstring).
    """
    B, T, C, Ph, Pw = masks.shape
    pair = valid[:, :-1] & valid[:, 1:]  # (B, T-1)
    n = pair.sum()
    if T < 2:
        zero = masks.sum(dim=(0, 1, 3, 4)) * 0.0  # (C,), keeps the graph
        return zero, zero, n
    src = masks[:, :-1].flatten(0, 1)  # (B*(T-1), C, Ph, Pw)
    delta = motion[:, :-1].flatten(0, 1)  # (B*(T-1), 2, Ph, Pw)
    warped = warp_forward(src, delta).view(B, T - 1, C, Ph, Pw)  # M̂_{t+1}
    weight = 1.0 - others[:, 1:]  # (B, T-1, 1, Ph, Pw), eq. 5
    lm = (weight * bce(warped, visible[:, 1:])).mean(dim=(-2, -1))  # (B, T-1, C)
    lc = soft_iou_loss(masks[:, 1:, :, None], warped[:, :, :, None])  # (B, T-1, C)
    keep = pair[:, :, None]  # (B, T-1, 1); where() so a NaN in an invalid frame cannot leak
    lm = torch.where(keep, lm, torch.zeros_like(lm)).sum(dim=(0, 1))  # (C,)
    lc = torch.where(keep, lc, torch.zeros_like(lc)).sum(dim=(0, 1))  # (C,)
    if horizon > 1:
        later = _later_horizons(warped, motion, visible, others, valid, horizon)  # (C,) sum of means
        lm = (lm + later * n.clamp_min(1).to(lm.dtype)) / min(horizon, T - 1)
    return lm, lc, n


def _frame_mean(values: torch.Tensor, valid: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """A per-frame term's mean over the valid (object, frame) pairs. values (B, T, 3): the term of the
    merged, forward and backward predictions; valid bool (B, T); w (2,): the weights of the merged
    prediction and of the two directions' own (their mean)."""
    s = torch.where(valid[:, :, None], values, torch.zeros_like(values)).sum(dim=(0, 1))  # (3,)
    s = torch.stack([s[0], 0.5 * (s[1] + s[2])])  # merged, own
    return (s * w).sum() / valid.sum().clamp_min(1).to(s.dtype)


def savos_loss(
    out: SaVosOutput, batch: TrackBatch, lambda1: float, lambda2: float, merged_weight: float = 0.5,
    horizon: int = 1, lambda3: float = 0.0, lambda0: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Eq. 7: ``total = lambda1 * L_M + lambda2 * L_C`` (``+ lambda3 * L_O + lambda0 * L_V``); keys
    ``total``, ``motion`` (L_M), ``consistency`` (L_C) and, when their weights are > 0, ``hidden`` (L_O)
    and ``visible`` (L_V). L_M and L_C are means over valid (object, pair) pairs, L_O and L_V over valid
    (object, frame) pairs (module docstring).

    out: SaVosOutput of a batch with B tracks of T frames; batch: its TrackBatch (visible, others, valid).
    """
    w = torch.tensor([merged_weight, 1.0 - merged_weight], device=out.amodal.device)  # merged, own
    fwd_masks = torch.cat([out.amodal, out.amodal_fwd], dim=2)  # (B, T, 2, Ph, Pw)
    bwd_masks = torch.cat([out.amodal, out.amodal_bwd], dim=2).flip(1)  # reversed time
    lm_f, lc_f, n = chain_terms(fwd_masks, out.motion_fwd, batch.visible, batch.others, batch.valid, horizon)
    lm_b, lc_b, _ = chain_terms(
        bwd_masks, out.motion_bwd.flip(1), batch.visible.flip(1), batch.others.flip(1), batch.valid.flip(1),
        horizon,
    )
    denom = 2.0 * n.clamp_min(1).to(lm_f.dtype)  # two directions, each over the same n pairs
    motion = ((lm_f + lm_b) * w).sum() / denom
    consistency = ((lc_f + lc_b) * w).sum() / denom
    out_terms = {"motion": motion, "consistency": consistency}
    total = lambda1 * motion + lambda2 * consistency
    if lambda3 > 0 or lambda0 > 0:
        masks = torch.cat([out.amodal, out.amodal_fwd, out.amodal_bwd], dim=2)  # (B, T, 3, Ph, Pw)
    if lambda3 > 0:
        hidden = _frame_mean((masks * batch.others).mean(dim=(-2, -1)), batch.valid, w)
        out_terms["hidden"] = hidden
        total = total + lambda3 * hidden
    if lambda0 > 0:
        err = ((1.0 - batch.others) * bce(masks, batch.visible)).mean(dim=(-2, -1))  # (B, T, 3)
        visible = _frame_mean(err, batch.valid, w)
        out_terms["visible"] = visible
        total = total + lambda0 * visible
    return {"total": total, **out_terms}


def supervised_loss(
    out: SaVosOutput, batch: TrackBatch, merged_weight: float = 0.5
) -> dict[str, torch.Tensor]:
    """Video oracle: BCE against the ground-truth ``batch.amodal``, mean over pixels, then over the
    valid and known (object, frame) pairs (0 if none). Merged and per-direction predictions weighted as in
    ``savos_loss``. Keys ``total`` and ``supervised`` (the same value).
    """
    use = batch.valid & batch.known_pairs()  # (B, T)
    target = torch.where(use[:, :, None, None, None], batch.amodal, torch.zeros_like(batch.amodal))
    merged = bce(out.amodal, target).mean(dim=(2, 3, 4))  # (B, T)
    own = 0.5 * (
        torch.nn.functional.binary_cross_entropy_with_logits(out.logits_fwd, target, reduction="none")
        + torch.nn.functional.binary_cross_entropy_with_logits(out.logits_bwd, target, reduction="none")
    ).mean(dim=(2, 3, 4))  # (B, T)
    per = merged_weight * merged + (1.0 - merged_weight) * own
    per = torch.where(use, per, torch.zeros_like(per))
    loss = per.sum() / use.sum().clamp_min(1).to(per.dtype)
    return {"total": loss, "supervised": loss}
