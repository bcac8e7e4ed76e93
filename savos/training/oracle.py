"""Supervised oracles (paper §4, "Competitors"; Table 1's last row): trained with the ground-truth amodal
crops ``batch.amodal``, which no self-supervised method may use. They bound what the architectures can
reach with labels.

- "oracle-unet": the image-level oracle the paper uses on FISHBOWL and Chewing Gum (U-Net [28]): the
  per-frame ``savos.models.unet.FrameCompleter`` on [V_t, others_t, rgb_t] (rgb blacked out under the others,
  which show the occluders, never the object), BCE against the amodal crop, mean over pixels, then over
  the valid (object, frame) pairs. Frames where the object is not visible are skipped in the loss and
  predicted empty: an image-level model has nothing to go on there.
- "oracle-savos": the video oracle: the SaVos network (``build_savos``, the recipe's model section is
  method "savos"'s) trained with ``savos.training.losses.supervised_loss`` (BCE of the merged and of each
  direction's prediction against the amodal crop, over valid pairs; the two weighted by the recipe's
  ``loss.merged_weight``, as in SaVos's own loss). The self-supervised terms of eq. 7 are added with
  the recipe's ``loss.lambda1`` / ``loss.lambda2`` when either is > 0; the shipped recipe sets both to 0
  (a pure oracle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from savos.errors import SavosError
from savos.models.unet import FrameCompleter, build_frame_completer, predict_frames
from savos.tracks import TrackBatch
from savos.training.losses import savos_loss, supervised_loss

if TYPE_CHECKING:
    from savos.config import Config, LossConfig


def build_oracle_unet(config: Config) -> FrameCompleter:
    try:
        return build_frame_completer(config.data.patch, config.model.widths, config.model.use_rgb)
    except SavosError as e:
        raise SavosError(f"{config.source or 'recipe'}: {e}") from None


def oracle_unet_step(model: nn.Module, batch: TrackBatch, loss: LossConfig) -> tuple[dict, torch.Tensor]:
    """-> ({"total", "supervised"}, probabilities (B, T, 1, P, P), 0 at invalid frames). ``loss`` unused."""
    B, T, _, P, _ = batch.visible.shape
    logits = model(batch.visible.flatten(0, 1), batch.others.flatten(0, 1), batch.rgb.flatten(0, 1))
    per = F.binary_cross_entropy_with_logits(logits.float(), batch.amodal.flatten(0, 1), reduction="none")
    per = per.mean((1, 2, 3))  # (B*T,)
    valid = batch.valid.flatten()
    per = torch.where(valid, per, torch.zeros_like(per))
    value = per.sum() / valid.sum().clamp_min(1).to(per.dtype)
    probs = torch.sigmoid(logits.detach().float()).view(B, T, 1, P, P)
    probs = probs * batch.valid[:, :, None, None, None].to(probs.dtype)
    return {"total": value, "supervised": value}, probs


oracle_unet_predict = predict_frames


def oracle_savos_step(model: nn.Module, batch: TrackBatch, loss: LossConfig) -> tuple[dict, torch.Tensor]:
    """-> ({"total", "supervised"[, "motion", "consistency"]}, merged probabilities (B, T, 1, P, P))."""
    out = model(batch)
    losses = supervised_loss(out, batch, merged_weight=loss.merged_weight)
    if loss.lambda1 > 0 or loss.lambda2 > 0:
        ss = savos_loss(out, batch, lambda1=loss.lambda1, lambda2=loss.lambda2,
                        merged_weight=loss.merged_weight)
        losses = {"total": losses["supervised"] + ss["total"], "supervised": losses["supervised"],
                  "motion": ss["motion"], "consistency": ss["consistency"]}
    return losses, out.amodal
