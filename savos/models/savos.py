"""The SaVos network (paper §3.3), with the original implementation's bugs fixed.

Per frame t of an object track (Ph x Pw patches, see savos.tracks; P below stands for either side):

- Enc: a strided CNN on [rgb (3), V_t (1), flow_fwd_t (2), flow_bwd_t (2)] (+ O_t, the other objects'
  visible masks, with ``others``), then the memory (savos.models.memory): ``memory="vector"`` is the
  paper's f_t (eq. 9) and one-layer LSTM h_t (eq. 10); ``memory="conv"`` a ConvGRU at P/8 whose
  spatial state is moved with the object from frame to frame, so shape seen at one frame is kept in
  place for the others; ``memory="both"`` the two side by side.
- Completer (eq. 11): CNN_a(V_t) — really the visible mask (the original fed the x flow), with O_t
  too under ``others`` (where the object may hide; the per-frame baselines get it as well) and, under
  ``carry``, A_t, the visible masks of this direction's earlier frames moved to frame t
  (savos.models.carry) — joined with h_t at the bottleneck (and, for the conv memory, at P/8), decoded
  to an amodal logit and an α logit. ``carry`` hands the completer, in place, what the LSTM would have
  to squeeze through 128 numbers: a shape seen at t-4 arrives at t pixel-registered.
- Motion predictor (eq. 12): CNN_c([ΔV_t, V_t]) joined with h_t, decoded to a residual added to the
  mean visible flow ΔV̄_t (common fate). V_t is given to CNN_c too so it knows where ΔV_t is the object's
  own motion. The returned motion is not detached: L_C trains it. The last layer starts at zero, so the
  initial motion is exactly the common fate.
- Bidirectional: the same network runs on the time-reversed track, where "forward" flow is flow_bwd; the
  two predictions merge with a per-pixel softmax over their α (eq. 8).

Both decoders have U-Net skips from their conditioning CNN (CNN_a / CNN_c) at every resolution above
the bottleneck (``skips=True``). The completer must reproduce the visible part of the mask to the pixel
(L_M compares it with V_{t+1} at full resolution), which a 4x4 bottleneck cannot; the skips only carry
the current visible mask (resp. flow), so the occluded part still has to come from h_t, i.e. from the
other frames and the learned shape prior. ``skips=False`` gives the paper's pure bottleneck.

Time is folded into the batch for every CNN; the two directions are stacked on the batch axis
(rows 0..B-1 forward, B..2B-1 reversed), so one call of each module serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from savos.errors import SavosError
from savos.models.carry import carry
from savos.models.memory import CONV_MEMORY_LEVEL, MEMORIES, ConvGRUMemory, Memory, State, VectorMemory
from savos.motion import DEFAULT as DEFAULT_MOTION
from savos.motion import check_motion
from savos.tracks import TrackBatch, patch_hw


def conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.GroupNorm(1, cout), nn.LeakyReLU(0.1, inplace=True)
    )


def up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
        nn.GroupNorm(1, cout),
        nn.LeakyReLU(0.1, inplace=True),
    )


def _reduced(patch: int | Sequence[int], n: int) -> tuple[int, int]:
    """(Ph, Pw) / 2^n, both sides divisible (build_savos checks it with a user-facing message)."""
    ph, pw = patch_hw(patch)
    assert n >= 0 and ph % 2**n == 0 and pw % 2**n == 0 and min(ph, pw) >= 2**n, (patch, n)
    return ph >> n, pw >> n


class Encoder(nn.Module):
    """Enc: (N, C_in, Ph, Pw) -> the maps of every level, [(N, widths[i], Ph/2^(i+1), Pw/2^(i+1))]: one
    stride-2 block per width. The memory (savos.models.memory) turns them into h_t."""

    def __init__(self, in_ch: int, widths: Sequence[int], patch: int | Sequence[int]):
        super().__init__()
        self.size = _reduced(patch, len(widths))  # (Ph/2^n, Pw/2^n)
        chans = [in_ch, *widths]
        self.convs = nn.Sequential(*[conv_block(a, b, 2) for a, b in zip(chans[:-1], chans[1:], strict=True)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps, z = [], _cl(x)
        for block in self.convs:
            z = block(z)
            maps.append(z)
        return maps


class CondUNet(nn.Module):
    """CNN_x on a conditioning image, joined with h_t at the bottleneck, decoded to ``out_ch`` maps.

    ``encode(x (N, C_in, Ph, Pw)) -> list`` of features at P .. P/2^n (the last is the bottleneck);
    ``decode(feats, h) -> (N, out_ch, Ph, Pw)``, h the memory's state (savos.models.memory.State): a vector
    (N, hidden) is joined at the bottleneck through a linear map; a map (N, hidden, Sh, Sw),
    S = P/2^mem_level, is added (1x1 conv) to the decoder feature of resolution S and, through strided
    convs, joined at the bottleneck. Split so one encoding can serve both directions when the conditioning
    input is the same (the completer's V_t).

    Skips are additive (LinkNet-style: decoder feature + encoder feature of the same width): on CPU,
    channel concatenation in channels-last layout cost more than the convolutions it feeds. The decoder
    stops at P/2; the full-resolution input enters there through space-to-depth (pixel_unshuffle, a
    1x1 lateral conv) and the output leaves through depth-to-space (pixel_shuffle of 2x2 sub-pixels), so
    the output is pixel-exact without any full-resolution convolution, which cost more than the whole
    rest of the network.
    """

    def __init__(self, in_ch: int, out_ch: int, widths: Sequence[int], hidden: int,
                 patch: int | Sequence[int], skips: bool, mem_level: int = 0, vector: bool = True,
                 conv_hidden: int = 0):
        super().__init__()
        n, self.skips, self.mem_level = len(widths), skips, mem_level
        assert n >= 1 and 0 <= mem_level <= n and (vector or mem_level), (mem_level, n, vector)
        self.r = _reduced(patch, n)  # (rh, rw) = (Ph, Pw) / 2^n, the bottleneck
        chans = [in_ch, *widths]
        self.down = nn.ModuleList([conv_block(a, b, 2) for a, b in zip(chans[:-1], chans[1:], strict=True)])
        self.h_proj = nn.Linear(hidden, widths[-1] * self.r[0] * self.r[1]) if vector else None
        if mem_level:  # spatial state at P / 2^mem_level: strided convs to the bottleneck, a lateral at S
            hc = [conv_hidden] + [widths[-1]] * (n - mem_level)
            self.h_down = (nn.Sequential(*[conv_block(a, b, 2) for a, b in zip(hc[:-1], hc[1:], strict=True)])
                           if mem_level < n else nn.Conv2d(conv_hidden, widths[-1], 1))
            self.h_lateral = nn.Conv2d(conv_hidden, widths[mem_level - 1], 1) if mem_level < n else None
        cins = [2 * widths[-1], *widths[n - 2 : 0 : -1]]  # inputs of the up blocks, bottleneck first
        self.up = nn.ModuleList(
            [up_block(c, widths[i - 1]) for c, i in zip(cins, range(n - 1, 0, -1), strict=True)]
        )
        if n == 1:  # no up block: the bottleneck (at P/2) goes straight to the head
            self.up.append(nn.Conv2d(2 * widths[0], widths[0], 1))
        self.lateral = nn.Conv2d(4 * in_ch, widths[0], 1) if skips else None
        self.refine = conv_block(widths[0], widths[0])
        self.head = nn.Conv2d(widths[0], 4 * out_ch, 3, 1, 1)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [x]
        for block in self.down:
            feats.append(block(_cl(feats[-1])))
        return feats  # [(N, C_in, Ph, Pw), (N, w0, Ph/2, Pw/2), ..., (N, w_{n-1}, rh, rw)]

    def decode(self, feats: list[torch.Tensor], h: State) -> torch.Tensor:
        N, n = feats[-1].shape[0], len(self.down)
        hmap = 0.0
        if self.h_proj is not None:
            hmap = self.h_proj(h.vector).view(N, -1, *self.r)  # (N, w_{n-1}, rh, rw)
        if self.mem_level:
            spatial = _cl(h.spatial)  # (N, hidden, Sh, Sw)
            hmap = hmap + self.h_down(spatial)  # (N, w_{n-1}, rh, rw)
        z = torch.cat([feats[-1], _cl(hmap)], dim=1)  # (N, 2 w_{n-1}, rh, rw)
        for i, block in enumerate(self.up):
            z = block(z)  # doubles the resolution: now P / 2^(n-1-i)
            if self.skips and len(feats) - 2 - i >= 1:
                z = z + feats[-2 - i]  # the CNN feature of the same resolution and width
            if self.mem_level and n - 1 - i == self.mem_level:
                z = z + self.h_lateral(spatial)  # the spatial state at its own resolution
        if self.lateral is not None:
            z = z + self.lateral(_cl(F.pixel_unshuffle(feats[0], 2)))  # (N, w0, Ph/2, Pw/2)
        return F.pixel_shuffle(self.head(self.refine(z)), 2)  # (N, out_ch, Ph, Pw)


@dataclass
class SaVosOutput:
    """What SaVos returns; per-direction fields are in normal time order. B, T, Ph, Pw as in the batch."""

    amodal: torch.Tensor  # (B, T, 1, Ph, Pw) merged probabilities M̃ (eq. 8)
    amodal_fwd: torch.Tensor  # (B, T, 1, Ph, Pw) forward-direction probabilities
    amodal_bwd: torch.Tensor  # (B, T, 1, Ph, Pw) backward-direction (time-reversed) probabilities
    logits_fwd: torch.Tensor  # (B, T, 1, Ph, Pw)
    logits_bwd: torch.Tensor  # (B, T, 1, Ph, Pw)
    alpha: torch.Tensor  # (B, T, 2, Ph, Pw) softmax weights of (fwd, bwd); sum to 1 over dim 2
    motion_fwd: torch.Tensor  # (B, T, 2, Ph, Pw) ΔM̃_t, t -> t+1, patch px, lives on t
    motion_bwd: torch.Tensor  # (B, T, 2, Ph, Pw) backward direction's ΔM̃_t, t -> t-1, lives on t
    mean_flow_fwd: torch.Tensor  # (B, T, 2) ΔV̄_t of flow_fwd over the visible mask (0 if not visible)
    mean_flow_bwd: torch.Tensor  # (B, T, 2) same for flow_bwd


def _cl(x: torch.Tensor) -> torch.Tensor:
    # channels-last convolutions are 2-3x faster on CPU (oneDNN) and no slower on GPU
    return x.contiguous(memory_format=torch.channels_last)


def masked_mean_flow(flow: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """Mean of flow (N, 2, Ph, Pw) over the soft mask vis (N, 1, Ph, Pw) -> (N, 2); 0 where vis is empty."""
    w = vis.sum(dim=(2, 3))  # (N, 1)
    s = (flow * vis).sum(dim=(2, 3))  # (N, 2)
    return torch.where(w > 1e-6, s / w.clamp_min(1e-6), torch.zeros_like(s))


class SaVos(nn.Module):
    """The stateless SaVos network; build with ``build_savos``.

    encoder: Enc on 8 channels (9 with ``others``); memory: VectorMemory or ConvGRUMemory
    (savos.models.memory); completer: CondUNet (V_t, or [V_t, O_t] with ``others`` -> 2: amodal logit,
    α logit); motion: CondUNet (3 -> 2: residual flow, in units of flow_scale). flow_scale: patch pixels
    that map to 1.0 at the network's inputs and outputs. others: the other objects' visible masks O_t are
    inputs of the encoder and the completer (where the object may be hidden; the paper does not give them).
    carry: the completer also gets A_t (savos.models.carry) of its direction; carry_clip: and the other
    direction's, i.e. everything of the clip that was visible, moved to frame t. carry_motion: the
    object-motion estimator the carry uses (savos.motion.MOTIONS).
    """

    def __init__(self, encoder: Encoder, memory: nn.Module, completer: CondUNet, motion: CondUNet,
                 flow_scale: float, others: bool = False, carry: bool = False, carry_clip: bool = False,
                 carry_motion: str = DEFAULT_MOTION):
        super().__init__()
        self.encoder, self.memory, self.completer, self.motion = encoder, memory, completer, motion
        self.flow_scale, self.others, self.carry = float(flow_scale), bool(others), bool(carry)
        self.carry_clip = bool(carry_clip)
        self.carry_motion = check_motion(carry_motion, "model.carry_motion")
        nn.init.zeros_(self.motion.head.weight)  # start from the common fate exactly
        nn.init.zeros_(self.motion.head.bias)

    def forward(self, batch: TrackBatch) -> SaVosOutput:
        """batch: rgb (B, T, 3, Ph, Pw), visible and others (B, T, 1, Ph, Pw), flow_fwd and flow_bwd
        (B, T, 2, Ph, Pw). Shapes below write P x P for Ph x Pw."""
        rgb, vis = batch.rgb, batch.visible
        assert rgb.dim() == 5 and vis.shape[2] == 1, (rgb.shape, vis.shape)
        B, T, _, Ph, Pw = rgb.shape
        fs = self.flow_scale

        def both(x: torch.Tensor) -> torch.Tensor:  # (B, T, ...) -> (2B, T, ...): forward, reversed
            return torch.cat([x, x.flip(1)], dim=0)

        # In the reversed direction, "forward in time" is the original backward flow, and vice versa.
        flow_dir = torch.cat([batch.flow_fwd, batch.flow_bwd.flip(1)], dim=0)  # (2B, T, 2, P, P)
        flow_opp = torch.cat([batch.flow_bwd, batch.flow_fwd.flip(1)], dim=0)  # (2B, T, 2, P, P)
        vis2 = both(vis)  # (2B, T, 1, P, P)
        extra = [both(batch.others)] if self.others else []
        x = torch.cat([both(rgb), vis2, flow_dir / fs, flow_opp / fs, *extra], dim=2)  # (2B, T, 8|9, P, P)
        fd, v2 = flow_dir.flatten(0, 1), vis2.flatten(0, 1)  # (2B*T, 2, P, P), (2B*T, 1, P, P)
        base = masked_mean_flow(fd, v2)  # (2B*T, 2) common fate t -> t+1 of this direction, patch px

        maps = [m.view(2 * B, T, *m.shape[1:]) for m in self.encoder(x.flatten(0, 1))]  # (2B, T, C, s, s)
        # the motion per patch width: the memory scales it by its map's width, which is also right along y
        # (Sh / Ph = Sw / Pw)
        h = self.memory(maps, base.view(2 * B, T, 2) / Pw)  # State of every frame, time-folded

        cond = torch.cat([vis, batch.others], dim=2) if self.others else vis  # (B, T, 1|2, P, P)
        if self.carry:  # A_t of each direction (earlier frames of that direction): encode both directions
            with torch.no_grad():
                # (2B, T, 1, P, P); flow_opp is t -> previous frame, on t
                seen = carry(vis2, flow_opp, motion=self.carry_motion, others=both(batch.others))
                if self.carry_clip:  # [own direction's A_t, the other direction's A_t], both on frame t
                    seen = torch.cat([seen, torch.cat([seen[B:], seen[:B]]).flip(1)], dim=2)
            feats_a = self.completer.encode(torch.cat([both(cond), seen], dim=2).flatten(0, 1))  # (2B*T, ..)
        else:  # CNN_a(V_t[, O_t]) does not depend on the direction; encode once, reverse for the second
            feats_a = self.completer.encode(cond.flatten(0, 1))  # each (B*T, C, p, p)
            feats_a = [_cl(both(e.view(B, T, *e.shape[1:])).flatten(0, 1)) for e in feats_a]  # (2B*T, ...)
        out_a = self.completer.decode(feats_a, h).view(2 * B, T, 2, Ph, Pw)  # (2B, T, 2, P, P)
        logits, alpha_logits = out_a[:, :, 0:1], out_a[:, :, 1:2]  # (2B, T, 1, P, P) each

        # Motion predictor: residual on the mean visible flow of this direction (common fate).
        res = self.motion.decode(self.motion.encode(torch.cat([fd / fs, v2], dim=1)), h)  # (2B*T, 2, P, P)
        motion = (base[:, :, None, None] + fs * res).view(2 * B, T, 2, Ph, Pw)  # (2B, T, 2, P, P)
        base = base.view(2 * B, T, 2)

        lf, lb = logits[:B], logits[B:].flip(1)  # (B, T, 1, P, P) each, normal time order
        alpha = torch.softmax(
            torch.cat([alpha_logits[:B], alpha_logits[B:].flip(1)], dim=2), dim=2
        )  # (B,T,2,P,P)
        pf, pb = torch.sigmoid(lf), torch.sigmoid(lb)
        merged = alpha[:, :, 0:1] * pf + alpha[:, :, 1:2] * pb  # (B, T, 1, P, P)
        return SaVosOutput(
            amodal=merged,
            amodal_fwd=pf,
            amodal_bwd=pb,
            logits_fwd=lf,
            logits_bwd=lb,
            alpha=alpha,
            motion_fwd=motion[:B],
            motion_bwd=motion[B:].flip(1),
            mean_flow_fwd=base[:B],
            mean_flow_bwd=base[B:].flip(1),
        )


def build_savos(
    patch: int | Sequence[int] = 64,
    enc_widths: Sequence[int] = (16, 32, 64, 64),
    feat: int = 128,
    hidden: int = 128,
    completer_widths: Sequence[int] = (8, 16, 32, 64),
    motion_widths: Sequence[int] = (8, 16, 32, 64),
    skips: bool = True,
    flow_scale: float = 4.0,
    memory: str = "vector",
    conv_hidden: int = 32,
    others: bool = False,
    carry: bool = False,
    carry_clip: bool = False,
    carry_motion: str = DEFAULT_MOTION,
) -> SaVos:
    """Build SaVos for P x P patches, or Ph x Pw for a pair ``patch`` = (Ph, Pw) (each side divisible by
    2^len(widths)). Widths are per stride-2 level.

    memory: "vector" (the paper's LSTM; feat and hidden are vector sizes), "conv" (a ConvGRU at P/8 with
    ``conv_hidden`` channels; feat and hidden unused) or "both" (the two, side by side); see
    savos.models.memory. others: give the encoder and the completer the other objects' visible masks.
    carry: give the completer the visible masks seen so far in its direction, moved to frame t
    (savos.models.carry). carry_clip: also those of the other direction (needs carry). carry_motion: the
    object-motion estimator of the carry (savos.motion.MOTIONS).
    """
    ph, pw = patch_hw(patch)
    for name, widths in (
        ("enc_widths", enc_widths),
        ("completer_widths", completer_widths),
        ("motion_widths", motion_widths),
    ):
        n = len(widths)
        if n < 1 or min(widths) < 1 or any(side < 2**n or side % 2**n for side in (ph, pw)):
            shown = patch if isinstance(patch, int) else list(patch)
            raise SavosError(
                f"model: patch {shown} must be divisible by 2^len({name}) = 2^{n} (each side) "
                f"(and widths positive), got {name}={list(widths)}"
            )
    if flow_scale <= 0 or feat < 1 or hidden < 1 or conv_hidden < 1:
        raise SavosError(
            f"model: flow_scale, feat, hidden and conv_hidden must be positive, got {flow_scale}, {feat}, "
            f"{hidden}, {conv_hidden}"
        )
    if memory not in MEMORIES:
        raise SavosError(f"model: memory must be one of {', '.join(MEMORIES)}, got {memory!r}")
    in_ch = 9 if others else 8
    vector, level = memory in ("vector", "both"), 0
    if memory in ("conv", "both"):  # the ConvGRU at P/8, or at the shallowest network's deepest level
        level = min(CONV_MEMORY_LEVEL, len(enc_widths), len(completer_widths), len(motion_widths))
    enc = Encoder(in_ch, tuple(enc_widths if vector else enc_widths[:level]), patch)
    mem = Memory(VectorMemory(enc_widths[-1], enc.size, feat, hidden) if vector else None,
                 ConvGRUMemory(enc_widths[level - 1], conv_hidden) if level else None, level)
    if carry_clip and not carry:
        raise SavosError("model: carry_clip needs carry: true (it adds the other direction's carried masks)")
    cin = 1 + int(others) + int(carry) + int(carry_clip)  # V_t [, O_t] [, A_t [, the other A_t]]
    completer = CondUNet(cin, 2, tuple(completer_widths), hidden, patch, skips, level, vector, conv_hidden)
    motion = CondUNet(3, 2, tuple(motion_widths), hidden, patch, skips, level, vector, conv_hidden)
    return SaVos(enc, mem, completer, motion, flow_scale, others, carry, carry_clip, carry_motion)
