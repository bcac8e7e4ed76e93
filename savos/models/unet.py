"""A small per-frame U-Net (Ronneberger et al. 2015), the image-level network of the learned baselines.

``UNet(in_ch, out_ch, widths)``: (N, C_in, Ph, Pw) -> (N, C_out, Ph, Pw) logits, for both sides divisible by
2^len(widths) (P below stands for either side). Level i works at P / 2^(i+1) with ``widths[i]`` channels: one
3x3 conv block (conv, GroupNorm, LeakyReLU) per level on the way down (strided from level 1 on), one
transposed-conv up block plus one conv block per level on the way up, with a skip from the encoder feature of
the same level. One conv per level down keeps a training step of 128 images of 64 x 64 (batch 8 x 16 frames)
at a few tenths of a second on 2 CPU threads; a second conv per level down and a two-conv stem roughly doubled
it.

Two CPU-driven choices, the same as SaVos's completer (savos.models.savos.CondUNet):

- The full-resolution input enters level 0 through space-to-depth (``pixel_unshuffle``: 2x2 pixels ->
  4 channels) and the output leaves through depth-to-space (``pixel_shuffle`` of 2x2 sub-pixel logits),
  so the output is pixel-exact without any convolution at full resolution (which on CPU costs more than
  the rest of the network).
- Skips are additive (LinkNet-style: decoder feature + encoder feature of the same width) rather than
  concatenated: in channels-last layout the concatenation cost more than the convolutions it feeds.

``FrameCompleter`` wraps a UNet for amodal completion of one object per frame: inputs are the object's
visible mask, an occluder mask and optionally the rgb crop with the occluder region blacked out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from savos.errors import SavosError
from savos.models.savos import conv_block, up_block
from savos.tracks import TrackBatch, patch_hw


def _cl(x: torch.Tensor) -> torch.Tensor:
    # channels-last convolutions are 2-3x faster on CPU (oneDNN) and no slower on GPU
    return x.contiguous(memory_format=torch.channels_last)


class UNet(nn.Module):
    """(N, in_ch, Ph, Pw) -> (N, out_ch, Ph, Pw) logits; Ph and Pw divisible by 2^len(widths)."""

    def __init__(self, in_ch: int, out_ch: int, widths: Sequence[int] = (16, 32, 64, 128)):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1 or in_ch < 1 or out_ch < 1:
            raise SavosError(f"UNet needs in_ch, out_ch >= 1 and a non-empty list of widths >= 1, got "
                             f"in_ch={in_ch}, out_ch={out_ch}, widths={list(widths)}")
        self.in_ch, self.out_ch, self.widths = in_ch, out_ch, widths
        self.stem = conv_block(4 * in_ch, widths[0])
        self.down = nn.ModuleList([conv_block(a, b, 2) for a, b in zip(widths[:-1], widths[1:], strict=True)])
        self.up = nn.ModuleList([up_block(b, a) for a, b in zip(widths[:-1], widths[1:], strict=True)])
        self.fuse = nn.ModuleList([conv_block(a, a) for a in widths[:-1]])
        self.head = nn.Conv2d(widths[0], 4 * out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dim() == 4 and x.shape[1] == self.in_ch, (tuple(x.shape), self.in_ch)
        n = len(self.widths)
        if any(side % 2**n for side in x.shape[-2:]):
            raise SavosError(f"UNet with {n} levels needs inputs with both sides divisible by 2^{n}, "
                             f"got {tuple(x.shape[-2:])}")
        feats = [self.stem(_cl(F.pixel_unshuffle(x, 2)))]  # (N, w0, Ph/2, Pw/2)
        for block in self.down:
            feats.append(block(feats[-1]))  # (N, w_i, P/2^(i+1), ...)
        z = feats[-1]
        for i in range(n - 2, -1, -1):
            z = self.fuse[i](self.up[i](z) + feats[i])  # (N, w_i, P/2^(i+1), ...)
        return F.pixel_shuffle(self.head(z), 2)  # (N, out_ch, Ph, Pw)


class FrameCompleter(nn.Module):
    """Amodal completion of one object in one frame: [V, O, rgb ⊙ (1 - O)] -> amodal logit.

    ``forward(visible (N, 1, Ph, Pw), occluder (N, 1, Ph, Pw), rgb (N, 3, Ph, Pw)) -> (N, 1, Ph, Pw)``
    logits.
    ``occluder`` marks where something may hide the object (other objects' visible masks). The rgb there
    is blacked out: it shows the occluder, never the object, and in the self-supervised training the
    artificial occluder must not leave the object's colour behind. ``use_rgb=False``: masks only.
    """

    def __init__(self, unet: UNet, use_rgb: bool):
        super().__init__()
        expected = 5 if use_rgb else 2
        if unet.in_ch != expected:
            raise SavosError(f"FrameCompleter(use_rgb={use_rgb}) needs a UNet with {expected} input "
                             f"channels, got {unet.in_ch}")
        self.unet, self.use_rgb = unet, bool(use_rgb)

    def forward(self, visible: torch.Tensor, occluder: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        assert visible.dim() == 4 and visible.shape[1] == 1 and occluder.shape == visible.shape
        parts = [visible, occluder]
        if self.use_rgb:
            parts.append(rgb * (1.0 - occluder))
        return self.unet(torch.cat(parts, dim=1))  # (N, 1, Ph, Pw)


def build_frame_completer(patch: int | Sequence[int], widths: Sequence[int] = (16, 32, 64, 128),
                          use_rgb: bool = True) -> FrameCompleter:
    """A FrameCompleter for P x P patches, or Ph x Pw for a pair (Ph, Pw); each side must be divisible by
    2^len(widths)."""
    n = len(widths)
    if n < 1 or any(side % 2**n for side in patch_hw(patch)):
        shown = patch if isinstance(patch, int) else list(patch)
        raise SavosError(f"model: patch {shown} must be divisible by 2^len(widths) = 2^{n} (each side), "
                         f"got widths={list(widths)}")
    return FrameCompleter(UNet(5 if use_rgb else 2, 1, widths), use_rgb)


def predict_frames(model: nn.Module, batch: TrackBatch) -> torch.Tensor:
    """Amodal probabilities (B, T, 1, Ph, Pw) of a per-frame completer: frame by frame, from the visible
    mask with the other objects' visible masks as occluders. Frames where the object is not visible
    (``valid`` False) carry no information for an image-level model and are predicted empty.

    model: called as ``model(visible, occluder, rgb)`` on (N, ., Ph, Pw) -> (N, 1, Ph, Pw) logits
    (a FrameCompleter, or a module wrapping one).
    """
    B, T, _, Ph, Pw = batch.visible.shape
    logits = model(batch.visible.flatten(0, 1), batch.others.flatten(0, 1), batch.rgb.flatten(0, 1))
    probs = torch.sigmoid(logits.float()).view(B, T, 1, Ph, Pw)
    return probs * batch.valid[:, :, None, None, None].to(probs.dtype)
