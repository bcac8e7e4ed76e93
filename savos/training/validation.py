"""Validation during training: whole val tracks (``savos.training.batches.val_batches``) through the
method's own step, the self-supervised loss that picks ``best.pt``, and crop IoU against the amodal truth
where it is known (information only)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from savos.config import Config
from savos.tracks import TrackBatch
from savos.training.batches import val_batches
from savos.training.methods import Method


def crop_iou(probs: torch.Tensor, batch: TrackBatch) -> dict[str, tuple[float, int]]:
    """IoU of thresholded crops vs the ground-truth amodal crops, per (track, frame) pair whose amodal
    mask is known (``batch.known``; real data is partly annotated).

    probs (B, T, 1, Ph, Pw). "full": pairs with a non-empty union; "occluded": the region outside the own
    visible mask, pairs where the ground truth has pixels there. Returns {name: (sum of IoUs, pairs)}.
    """
    pred, gt = probs[:, :, 0] > 0.5, batch.amodal[:, :, 0] > 0.5  # (B, T, Ph, Pw)
    hidden = batch.visible[:, :, 0] <= 0.5
    known = batch.known_pairs()  # (B, T)
    out = {}
    for name, p, g in (("full", pred, gt), ("occluded", pred & hidden, gt & hidden)):
        inter, union = (p & g).sum((-1, -2)), (p | g).sum((-1, -2))  # (B, T)
        keep = known & (g.any(-1).any(-1) if name == "occluded" else union > 0)
        iou = inter[keep].double() / union[keep].double()
        out[name] = (float(iou.sum()), int(keep.sum()))
    return out


def track_image(visible: torch.Tensor, pred: torch.Tensor, gt: torch.Tensor, frames: int = 8,
                known: torch.Tensor | None = None) -> torch.Tensor:
    """(T, 1, Ph, Pw) crops -> (3 Ph + 2, n Pw) image: rows visible / prediction / ground truth, n <= frames.
    known bool (T,): frames without amodal truth show a uniform grey (0.5) ground truth."""
    T = visible.shape[0]
    ts = np.unique(np.linspace(0, T - 1, min(frames, T)).round().astype(int))
    if known is not None:
        gt = torch.where(known[:, None, None, None], gt, torch.full_like(gt, 0.5))
    rows = [torch.cat([x[t, 0] for t in ts], dim=1) for x in (visible, pred, gt)]  # each (Ph, n Pw)
    gap = torch.full((1, rows[0].shape[1]), 0.5)
    return torch.cat([rows[0], gap, rows[1], gap, rows[2]], dim=0)


@torch.no_grad()
def validate(model: torch.nn.Module, method: Method, config: Config, device: torch.device):
    """Self-supervised val loss (for model selection) and crop mIoU (information). -> (metrics, image)."""
    model.eval()
    sums: dict[str, float] = defaultdict(float)
    n_tracks, iou = 0, {"full": [0.0, 0], "occluded": [0.0, 0]}
    pictures = []
    data = config.data
    for batch in val_batches(data.root, data.val_split, data.val_clips, data.patch, data.enlarge,
                             config.train.batch_size):
        batch = batch.to(device)
        losses, probs = method.step(model, batch, config.loss)
        B = probs.shape[0]
        for k, v in losses.items():
            sums[k] += float(v) * B
        n_tracks += B
        for k, (s, n) in crop_iou(probs, batch).items():
            iou[k][0] += s
            iou[k][1] += n
        for j in range(min(B, config.train.images - len(pictures))):
            pictures.append(track_image(batch.visible[j].cpu(), probs[j].float().cpu(),
                                        batch.amodal[j].cpu(), known=batch.known_pairs()[j].cpu()))
    model.train()
    if n_tracks == 0:
        return {}, None
    metrics = {f"loss_{k}": v / n_tracks for k, v in sums.items()}
    metrics.update({f"miou_{k}": (s / n if n else float("nan")) for k, (s, n) in iou.items()})
    image = torch.cat([torch.cat([p, torch.ones(2, p.shape[1])]) for p in pictures]) if pictures else None
    return metrics, image
