"""Test-time adaptation (paper §3.2, §4.3): fine-tune a trained model on one clip with the method's own
self-supervised training loss (eq. 7 for SaVos; the artificial-occlusion loss for image-ssl), with no
ground truth, and stop early on the visible-part IoU.

One clip (``adapt_clip``): the weights are set to ``initial`` (the run's), Adam at a constant ``lr``.
Iteration i first *evaluates* the current weights on the clip's whole target tracks (eval mode,
``method.predict``, exactly what `savos predict` computes): the visible-part IoU (below) and, for analysis
only, the ground-truth full and occluded IoU of the crops. Then, unless it stops, one optimizer step of
``method.step`` (the method's training loss) on a batch of windows of the clip's tracks. The prediction
returned is that of the last evaluation: the weights at the stop. Evaluation 0 is the model before
adaptation. The weights are set back to ``initial`` on return: the caller's model is unchanged.

Visible-part IoU (no ground truth): per (track, frame) with the object visible, the IoU of the
thresholded prediction outside the other objects' visible masks (where the truth is known) against the
own visible mask; the mean over those pairs. It is 1 when the prediction recovers the visible part of
every frame. §4.3 stops once it no longer improves, before the prediction grows into the area that no
frame reveals, where eq. 7 gives no signal.

Early stopping (``should_stop``): after evaluation i, stop when i >= patience and the best visible-part
IoU so far rose by less than ``min_delta`` over the last ``patience`` iterations (§4.3: 0.01 over 10),
or when i == max_iters.

Windows: with ``window`` 0 (whole clips) and at most ``batch_size`` target tracks, every step uses all of
the clip's tracks whole (no sampling); otherwise each step draws ``batch_size`` (track, start) pairs from
``np.random.default_rng([*seed, i])``. The batch keys carry the iteration, so methods that seed their own
randomness from the batch identity (image-ssl's artificial occluders, ``batch_seed``) draw new
occlusions at every step, as in training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from savos.data.clip import Clip
from savos.tracks import Track, TrackBatch, collate, crop_track, make_tracks, paste_back

if TYPE_CHECKING:
    from savos.config import LossConfig
    from savos.training.methods import Method

THRESHOLD = 0.5


@dataclass
class AdaptLog:
    """Per-iteration record of one clip's adaptation (JSON-able with ``to_dict``)."""

    key: str
    loss: list[float] = field(default_factory=list)  # step i's training loss, at the weights of evaluation i
    visible_iou: list[float] = field(default_factory=list)  # evaluation i (i = 0: before adaptation)
    occluded_iou: list[float | None] = field(default_factory=list)  # ground truth, analysis only
    full_iou: list[float | None] = field(default_factory=list)  # ground truth, analysis only
    stopped: str = ""  # "plateau", "max_iters" or "no tracks"
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.loss)

    def to_dict(self) -> dict:
        return {"key": self.key, "steps": self.steps, "stopped": self.stopped, "seconds": self.seconds,
                "loss": self.loss, "visible_iou": self.visible_iou, "occluded_iou": self.occluded_iou,
                "full_iou": self.full_iou}


def should_stop(visible_iou: Sequence[float], patience: int, min_delta: float) -> bool:
    """§4.3's rule after evaluation i = len(visible_iou) - 1: the best value so far rose by less than
    ``min_delta`` over the last ``patience`` iterations (never before ``patience`` iterations)."""
    i = len(visible_iou) - 1
    if i < patience or min_delta <= 0:
        return False
    v = [x if math.isfinite(x) else -math.inf for x in visible_iou]
    return max(v) - max(v[: i - patience + 1]) < min_delta


def crop_scores(probs: torch.Tensor, batch: TrackBatch, known: torch.Tensor) -> dict[str, float | None]:
    """Mean IoUs of thresholded crops over (track, frame) pairs; None where no pair counts.

    probs (B, T, 1, Ph, Pw); known bool (B, T): pairs whose ground truth may be scored (``amodal_known``).
    "visible": see the module docstring (no ground truth). "full" / "occluded" (ground truth, analysis
    only): against the amodal crop, and both restricted to outside the own visible mask, over known pairs
    where the ground truth has pixels there.
    """
    pred = probs[:, :, 0] > THRESHOLD  # (B, T, P, P)
    vis, others = batch.visible[:, :, 0] > 0.5, batch.others[:, :, 0] > 0.5
    gt = batch.amodal[:, :, 0] > 0.5
    hidden = ~vis
    cases = {"visible": (pred & ~others, vis, batch.valid),
             "full": (pred, gt, known & gt.any(-1).any(-1)),
             "occluded": (pred & hidden, gt & hidden, known & (gt & hidden).any(-1).any(-1))}
    out: dict[str, float | None] = {}
    for name, (p, g, keep) in cases.items():
        inter, union = (p & g).sum((-1, -2)), (p | g).sum((-1, -2))  # (B, T)
        keep = keep & (union > 0)
        out[name] = float((inter[keep].double() / union[keep].double()).mean()) if keep.any() else None
    return out


def _paste(probs: torch.Tensor, tracks: list[Track], clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """Crop probabilities (B, T, 1, P, P) of ``tracks`` -> (amodal bool (T, K, H, W), predicted bool (K,)),
    as `savos predict` writes them (a target without a track: predicted, empty)."""
    amodal = np.zeros((clip.num_frames, clip.num_objects, *clip.size), bool)
    predicted = np.zeros(clip.num_objects, bool)
    predicted[clip.target_ids()] = True
    for j, track in enumerate(tracks):
        amodal[:, track.object_id] = paste_back(probs[j, :, 0].numpy(), track, size=clip.size) >= THRESHOLD
    return amodal, predicted


def _windows(clip: Clip, tracks: list[Track], whole: TrackBatch, batch_size: int, window: int,
             rng: np.random.Generator) -> TrackBatch:
    T = clip.num_frames
    L = T if window == 0 else min(window, T)
    if L == T and len(tracks) <= batch_size:
        return whole
    picks = rng.integers(0, len(tracks), size=batch_size)
    starts = rng.integers(0, T - L + 1, size=batch_size)
    return collate([crop_track(clip, tracks[int(j)], int(s), L) for j, s in zip(picks, starts, strict=True)])


def adapt_clip(model: torch.nn.Module, method: Method, clip: Clip, initial: dict[str, torch.Tensor], *,
               patch: int | tuple[int, int], enlarge: float, loss: LossConfig, lr: float, max_iters: int,
               patience: int, min_delta: float, batch_size: int, window: int, grad_clip: float,
               seed: Sequence[int], device: torch.device,
               on_iteration: Callable[[AdaptLog], None] | None = None):
    """Adapt ``model`` (weights ``initial``) to ``clip``; see the module docstring.

    Returns (after, before, log): ``after`` and ``before`` are (amodal bool (T, K, H, W), predicted bool
    (K,)) of the adapted and of the initial weights, in `savos predict`'s format. ``on_iteration`` is
    called after every evaluation (progress, tests). ``model`` holds ``initial`` again on return.
    """
    start = time.perf_counter()
    log = AdaptLog(clip.key)
    tracks = make_tracks(clip, patch, enlarge)
    if not tracks:  # no target visible in any frame: nothing to adapt, nothing to predict
        empty = _paste(torch.zeros(0), [], clip)
        log.stopped = "no tracks"
        return empty, empty, log
    whole = collate([crop_track(clip, tr) for tr in tracks]).to(device)  # (B, T, ...) every target
    known = whole.known_pairs()  # (B, T) clip.amodal_known of each track's object
    model.load_state_dict(initial)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    max_norm = grad_clip if grad_clip > 0 else math.inf
    before = None
    try:
        for i in range(max_iters + 1):
            model.eval()
            with torch.no_grad():
                probs = method.predict(model, whole).float()  # (B, T, 1, P, P)
            scores = crop_scores(probs, whole, known)
            log.visible_iou.append(float("nan") if scores["visible"] is None else scores["visible"])
            log.occluded_iou.append(scores["occluded"])
            log.full_iou.append(scores["full"])
            if before is None:
                before = _paste(probs.cpu(), tracks, clip)
            if on_iteration is not None:
                on_iteration(log)
            if should_stop(log.visible_iou, patience, min_delta):
                log.stopped = "plateau"
                break
            if i == max_iters:
                log.stopped = "max_iters"
                break
            rng = np.random.default_rng([*seed, i])
            batch = _windows(clip, tracks, whole, batch_size, window, rng).to(device)
            batch = replace(batch, keys=[f"{k}/adapt-{i}" for k in batch.keys])
            model.train()
            losses, _ = method.step(model, batch, loss)
            value = float(losses["total"].detach())
            if not math.isfinite(value):
                log.stopped = "non-finite loss"
                break
            losses["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            log.loss.append(value)
        after = _paste(probs.cpu(), tracks, clip)
    finally:
        model.load_state_dict(initial)
        model.eval()
    log.seconds = time.perf_counter() - start
    return after, before, log
