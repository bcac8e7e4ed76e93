"""Method "image-ssl": an image-level self-supervised completer after Self-Deocclusion's PCNet-M.

PCNet-M (Zhan et al., CVPR 2020) learns amodal completion from visible masks alone by occluding them
artificially. Here, per frame — (B, T) is one batch of B*T images, no temporal information — with V the
object's visible mask in its crop, R the real other objects' visible masks (``batch.others``) and O an
artificial occluder (another track's visible mask, see ``artificial_occlusion``):

- case 1, occluder in front (probability ``front_prob``; PCNet-M's ``eraser_front_prob``, 0.8 in its
  configs): input V ∧ ¬O, occluder channel O ∪ R, target V: learn to complete what O hides;
- case 2, occluder behind: input V, occluder channel (O ∧ ¬V) ∪ R, target V: learn not to grow into an
  adjacent occluder when nothing is hidden (PCNet-M's regulariser, without which the net would fill
  every occluder).

R is in the occluder channel in both cases so that training inputs look like test inputs, where the
occluder channel is all the other objects' visible masks. The rgb crop enters blacked out under the
occluder channel (``savos.models.unet.FrameCompleter``), so case 1 leaves no trace of the object's colour
under O (PCNet-M erases the image under its eraser too).

Loss (``deocclusion_loss``): BCE against V, weighted ``occluder_weight`` (PCNet-M's ``inmask_weight`` = 5)
inside the artificial occluder — where the two cases differ — and 1 elsewhere, mean over pixels, then
over the valid (object, frame) pairs. With ``ignore_others`` (default) the weight is 0 inside R: the true
extent of the object under a real occluder is unknown there, and a target of 0 would teach the net the
opposite of completion (PCNet-M has no such mask; it is SaVos's W = 1 - Σ_i V^i + V^k of eq. 5 applied
to the same problem). The ground-truth ``batch.amodal`` is never read by this method's step
(tests/test_image_ssl.py sets it to NaN).

At test time (``savos.models.unet.predict_frames``): input V_t, occluder channel R_t -> amodal probabilities.

Randomness: the artificial occlusions of a batch come from a ``torch.Generator`` seeded by the batch's
identity (``batch_seed``: clip keys, object ids and window starts), itself a pure function of the
trainer's (seed, step, rank); so training is reproducible and resumable, and the validation loss of a
val batch is the same at every validation.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from savos.errors import SavosError
from savos.models.configs import check_patch
from savos.models.unet import FrameCompleter, build_frame_completer, predict_frames
from savos.tracks import TrackBatch

if TYPE_CHECKING:
    from savos.config import Config, LossConfig

COVER = (0.1, 0.7)  # wanted fraction of V hidden by O: the occlusion rates the savos protocol scores
CANDIDATES = 4  # placements tried per image; the first with a cover in COVER wins, else the closest


class ImageSSL(nn.Module):
    """A FrameCompleter plus the settings of its objective (plain attributes, not weights).

    ``forward(visible, occluder, rgb)`` is the completer's: (N, 1|1|3, Ph, Pw) -> (N, 1, Ph, Pw) logits.
    """

    def __init__(self, completer: FrameCompleter, front_prob: float, occluder_weight: float,
                 max_offset: float, ignore_others: bool):
        super().__init__()
        self.completer = completer
        self.front_prob, self.occluder_weight = float(front_prob), float(occluder_weight)
        self.max_offset, self.ignore_others = float(max_offset), bool(ignore_others)

    def forward(self, visible: torch.Tensor, occluder: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return self.completer(visible, occluder, rgb)


@dataclass
class Occlusion:
    """One artificial occlusion per image (N images, Ph x Pw)."""

    visible: torch.Tensor  # (N, 1, Ph, Pw) the input visible mask: V ∧ ¬O (case 1) or V (case 2)
    occluder: torch.Tensor  # (N, 1, Ph, Pw) the input occluder channel: the artificial occluder ∪ R
    artificial: torch.Tensor  # (N, 1, Ph, Pw) the artificial occluder as input: O (case 1), O ∧ ¬V (case 2)
    front: torch.Tensor  # bool (N,): case 1


def _centroid(m: torch.Tensor) -> torch.Tensor:
    """(N, Ph, Pw) soft masks -> (N, 2) (row, col) centres of mass; the patch centre for empty masks."""
    Ph, Pw = m.shape[-2:]
    rows, cols = (torch.arange(n, device=m.device, dtype=m.dtype) for n in (Ph, Pw))
    mass = m.sum((1, 2))  # (N,)
    rc = torch.stack([(m.sum(2) * rows).sum(1), (m.sum(1) * cols).sum(1)], dim=1)  # (N, 2)
    centre = torch.tensor([(Ph - 1) / 2, (Pw - 1) / 2], device=m.device, dtype=m.dtype).expand_as(rc)
    return torch.where(mass[:, None] > 1e-6, rc / mass.clamp_min(1e-6)[:, None], centre)


def artificial_occlusion(visible: torch.Tensor, others: torch.Tensor, group: torch.Tensor,
                         valid: torch.Tensor, front_prob: float, max_offset: float,
                         gen: torch.Generator) -> Occlusion:
    """Occlude each image's visible mask with another track's visible mask (see the module docstring).

    visible, others (N, 1, Ph, Pw) soft masks V and R; group long (N,): the track of each image — the
    occluder comes from an image of another track when there is a valid one, else from another image;
    valid bool (N,): images that may serve as occluders. gen: a CPU torch.Generator; every random draw
    comes from it. The source mask is flipped at random (each axis, p = 0.5) and shifted by whole pixels
    so that its centre of mass lands within ± max_offset * (Ph, Pw) of V's (zeros shifted in); of CANDIDATES
    such placements the first hiding a fraction of V within COVER is kept, else the closest to it.
    """
    N, _, Ph, Pw = visible.shape
    dev, dt = visible.device, visible.dtype
    v = visible[:, 0]  # (N, Ph, Pw)
    usable = (valid & (v.flatten(1).sum(1) > 0.5)).cpu()  # (N,) non-empty occluder sources
    g = group.cpu()
    weights = (usable[None, :] & (g[None, :] != g[:, None])).float()  # (N, N) row i: sources for image i
    same = (usable[None, :] & ~torch.eye(N, dtype=torch.bool)).float()
    weights = torch.where(weights.sum(1, keepdim=True) > 0, weights, same)
    weights = torch.where(weights.sum(1, keepdim=True) > 0, weights, torch.ones(N, N))
    src = torch.multinomial(weights, 1, generator=gen)[:, 0]  # (N,)
    flip = torch.rand(N, 2, generator=gen) < 0.5  # (N, 2): flip rows, flip cols
    u = 2 * torch.rand(N, CANDIDATES, 2, generator=gen) - 1  # (N, C, 2) rows, cols in [-1, 1)
    offset = torch.stack([u[..., 0] * (max_offset * Ph), u[..., 1] * (max_offset * Pw)], dim=-1)
    front = torch.rand(N, generator=gen) < front_prob  # (N,)
    src, flip, offset, front = src.to(dev), flip.to(dev), offset.to(dev, dt), front.to(dev)

    s = v[src]  # (N, Ph, Pw) source masks
    c_src = _centroid(s)  # (N, 2)
    last = torch.tensor([Ph - 1, Pw - 1], device=dev, dtype=c_src.dtype)  # (2,) last row, last column
    c_src = torch.where(flip, last - c_src, c_src)  # centre after flipping
    shift = torch.round(_centroid(v)[:, None] + offset - c_src[:, None]).long()  # (N, C, 2)
    # Output pixel (r, c) takes pixel (r - dy, c - dx) of the flipped source; index Ph or Pw (a zero row and
    # column padded on) stands for outside. Rows are gathered first, then columns: two cheap gathers.
    idx = []
    for axis, n in ((0, Ph), (1, Pw)):
        i = torch.arange(n, device=dev) - shift[..., axis : axis + 1]  # (N, C, n)
        out = (i < 0) | (i >= n)
        i = torch.where(flip[:, None, axis : axis + 1], (n - 1) - i, i)
        idx.append(torch.where(out, n, i))
    s = F.pad(s, (0, 1, 0, 1))  # (N, Ph + 1, Pw + 1)
    cand = s[torch.arange(N, device=dev)[:, None, None], idx[0]]  # (N, C, Ph, Pw + 1) rows picked
    cand = torch.gather(cand, 3, idx[1][:, :, None, :].expand(N, CANDIDATES, Ph, Pw))  # (N, C, Ph, Pw)

    area = v.sum((1, 2)).clamp_min(1e-6)  # (N,)
    cover = (cand * v[:, None]).sum((2, 3)) / area[:, None]  # (N, C) fraction of V hidden
    miss = F.relu(COVER[0] - cover) + F.relu(cover - COVER[1])  # (N, C), 0 inside the range
    occ = cand[torch.arange(N, device=dev), miss.argmin(1)][:, None]  # (N, 1, Ph, Pw) the first best
    f = front[:, None, None, None].to(dt)
    art = f * occ + (1 - f) * occ * (1 - visible)  # O, or its part not behind V
    inp = f * visible * (1 - occ) + (1 - f) * visible
    return Occlusion(visible=inp, occluder=art + others - art * others, artificial=art, front=front)


def deocclusion_loss(logits: torch.Tensor, target: torch.Tensor, artificial: torch.Tensor,
                     others: torch.Tensor, valid: torch.Tensor, occluder_weight: float,
                     ignore_others: bool) -> torch.Tensor:
    """Weighted BCE (module docstring): mean over pixels, then over the valid images; 0 if none.

    logits, target (V), artificial, others (N, 1, Ph, Pw); valid bool (N,). -> scalar.
    """
    w = 1.0 + (occluder_weight - 1.0) * artificial  # (N, 1, Ph, Pw)
    if ignore_others:
        w = w * (1.0 - others)
    per = (w * F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")).mean((1, 2, 3))
    per = torch.where(valid, per, torch.zeros_like(per))  # (N,); where() keeps NaNs of invalid images out
    return per.sum() / valid.sum().clamp_min(1).to(per.dtype)


def batch_seed(batch: TrackBatch) -> int:
    """A 32-bit seed from the batch's identity: clip keys, object ids and window starts (the visible
    masks' bytes for a batch built without keys). Stable across processes (no Python ``hash``)."""
    if batch.keys and batch.object_id is not None and batch.t0 is not None:
        ident = repr((batch.keys, batch.object_id.tolist(), batch.t0.tolist())).encode()
    else:
        ident = batch.visible.detach().cpu().numpy().tobytes()
    return zlib.crc32(ident)


def build_image_ssl(config: Config) -> ImageSSL:
    m = config.model
    check_patch(config.data.patch, len(m.widths), "model.widths", config.source)
    try:
        completer = build_frame_completer(config.data.patch, m.widths, m.use_rgb)
    except SavosError as e:
        raise SavosError(f"{config.source or 'recipe'}: {e}") from None
    return ImageSSL(completer, m.front_prob, m.occluder_weight, m.max_offset, m.ignore_others)


def image_ssl_step(model: nn.Module, batch: TrackBatch, loss: LossConfig) -> tuple[dict, torch.Tensor]:
    """-> ({"total", "deocclusion"}, probabilities (B, T, 1, Ph, Pw)). ``loss`` (lambda1, lambda2) is
    unused.

    The probabilities are the test-time predictions (``predict_frames``) in eval mode (validation: crop
    mIoU), and the completions of the artificially occluded inputs in training mode (unused there; no
    second forward pass).
    """
    net = getattr(model, "module", model)  # the bare ImageSSL under DDP, for its settings
    B, T, _, Ph, Pw = batch.visible.shape
    vis, others, valid = batch.visible.flatten(0, 1), batch.others.flatten(0, 1), batch.valid.flatten()
    group = torch.arange(B).repeat_interleave(T)  # (B*T,) the track of each image
    gen = torch.Generator().manual_seed(batch_seed(batch))
    occ = artificial_occlusion(vis, others, group, valid, net.front_prob, net.max_offset, gen)
    logits = model(occ.visible, occ.occluder, batch.rgb.flatten(0, 1))  # (B*T, 1, Ph, Pw)
    value = deocclusion_loss(logits, vis, occ.artificial, others, valid, net.occluder_weight,
                             net.ignore_others)
    if model.training:
        probs = torch.sigmoid(logits.detach().float()).view(B, T, 1, Ph, Pw)
    else:
        probs = predict_frames(model, batch)
    return {"total": value, "deocclusion": value}, probs


image_ssl_predict = predict_frames
