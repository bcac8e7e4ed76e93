"""Supervised oracles (paper §4, "Competitors"; Table 1's last row): trained with the ground-truth amodal
crops ``batch.amodal``, which no self-supervised method may use. They bound what the architectures can
reach with labels.

- "oracle-unet": the image-level oracle the paper uses on FISHBOWL and Chewing Gum (U-Net [28]): the
  per-frame ``savos.models.unet.FrameCompleter`` on [V_t, others_t, rgb_t] (rgb blacked out under the others,
  which show the occluders, never the object), BCE against the amodal crop, mean over pixels, then over
  the valid (object, frame) pairs. Frames where the object is not visible are skipped in the loss and
  predicted empty: an image-level model has nothing to go on there.
- Both read ``batch.amodal`` only where it is truth (``batch.known``, from ``clip.amodal_known``: real data
  is partly annotated): unknown pairs are left out of the loss and their target is zeroed first, so
  nothing they hold reaches a gradient. A training split without any known pair is refused in one line
  (``check_truth``, called by the trainer before the first step).
- "oracle-savos": the video oracle: the SaVos network (``build_savos``, the recipe's model section is
  method "savos"'s) trained with ``savos.training.losses.supervised_loss`` (BCE of the merged and of each
  direction's prediction against the amodal crop, over valid pairs; the two weighted by the recipe's
  ``loss.merged_weight``, as in SaVos's own loss). The self-supervised terms of eq. 7 are added with
  the recipe's ``loss.lambda1`` / ``loss.lambda2`` when either is > 0; the shipped recipe sets both to 0
  (a pure oracle).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from savos.data.clip import Clip
from savos.errors import SavosError
from savos.models.configs import check_patch
from savos.models.unet import FrameCompleter, build_frame_completer, predict_frames
from savos.tracks import TrackBatch
from savos.training.losses import savos_loss, supervised_loss

if TYPE_CHECKING:
    from savos.config import Config, LossConfig


def build_oracle_unet(config: Config) -> FrameCompleter:
    check_patch(config.data.patch, len(config.model.widths), "model.widths", config.source)
    try:
        return build_frame_completer(config.data.patch, config.model.widths, config.model.use_rgb)
    except SavosError as e:
        raise SavosError(f"{config.source or 'recipe'}: {e}") from None


def oracle_unet_step(model: nn.Module, batch: TrackBatch, loss: LossConfig) -> tuple[dict, torch.Tensor]:
    """-> ({"total", "supervised"}, probabilities (B, T, 1, Ph, Pw), 0 at invalid frames). ``loss`` unused.

    The loss is over valid and known pairs only (0 if none)."""
    B, T, _, Ph, Pw = batch.visible.shape
    logits = model(batch.visible.flatten(0, 1), batch.others.flatten(0, 1), batch.rgb.flatten(0, 1))
    use = (batch.valid & batch.known_pairs()).flatten()  # (B*T,)
    target = batch.amodal.flatten(0, 1)  # (B*T, 1, Ph, Pw)
    target = torch.where(use[:, None, None, None], target, torch.zeros_like(target))
    per = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
    per = per.mean((1, 2, 3))  # (B*T,)
    per = torch.where(use, per, torch.zeros_like(per))
    value = per.sum() / use.sum().clamp_min(1).to(per.dtype)
    probs = torch.sigmoid(logits.detach().float()).view(B, T, 1, Ph, Pw)
    probs = probs * batch.valid[:, :, None, None, None].to(probs.dtype)
    return {"total": value, "supervised": value}, probs


oracle_unet_predict = predict_frames


def check_truth(clips: Sequence[Clip], where: str, method: str) -> None:
    """One line unless some target object of some clip has amodal truth at some frame
    (``clip.amodal_known``). Stops at the first clip that has (synthetic data: the first)."""
    for clip in clips:
        if clip.amodal_known[:, clip.target_ids()].any():
            return
    raise SavosError(f"{where}: no clip has amodal ground truth (amodal_known is all False), and method "
                     f"{method!r} trains on it; use a self-supervised method (savos, image-ssl) or data "
                     "with amodal truth")


def oracle_savos_step(model: nn.Module, batch: TrackBatch, loss: LossConfig) -> tuple[dict, torch.Tensor]:
    """-> ({"total", "supervised"[, "motion", "consistency"]}, merged probabilities (B, T, 1, Ph, Pw))."""
    out = model(batch)
    losses = supervised_loss(out, batch, merged_weight=loss.merged_weight)
    if loss.lambda1 > 0 or loss.lambda2 > 0:
        ss = savos_loss(out, batch, lambda1=loss.lambda1, lambda2=loss.lambda2,
                        merged_weight=loss.merged_weight, horizon=loss.horizon,
                        lambda3=loss.lambda3, lambda0=loss.lambda0)
        losses = {"total": losses["supervised"] + ss["total"], "supervised": losses["supervised"],
                  "motion": ss["motion"], "consistency": ss["consistency"]}
    return losses, out.amodal
