"""SaVos's temporal state: what carries information from frame to frame along one direction of a track.

Two memories, chosen by the recipe's ``model.memory``:

- ``"vector"`` — the paper's (eq. 9-10): the encoder map is flattened and projected to ``f_t`` (feat
  numbers), a one-layer LSTM gives ``h_t`` (hidden numbers). The decoders project ``h_t`` back onto their
  bottleneck. The state has no layout, so a shape seen at frame t-4 must be re-encoded into 128 numbers
  and decoded again at every frame.
- ``"conv"`` — a ConvGRU at Sh x Sw (S = P/8 for each side of the patch, or the encoder's deepest level if
  it has fewer than three):
  ``h_t`` (hidden channels, S, S) keeps the layout of the crop. Before each update the previous state is
  moved by the object's mean visible flow (the common fate, t-1 -> t, in crop coordinates), so the
  state stays registered with the object while the crop follows its visible part: a part seen at t-4
  stays where it was, relative to the object, until the frame that needs it. The decoders receive
  ``h_t`` at resolution S (and a strided projection at their bottleneck).

- ``"both"`` — the two side by side: the LSTM's global view of the shape (every output pixel depends on
  all of it) and the ConvGRU's registered map.

``Memory`` takes the encoder's maps of one direction in time order and returns a ``State`` of every frame,
time-folded: ``vector (N*T, hidden)`` and/or ``spatial (N*T, hidden, Sh, Sw)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from savos.warp import warp

MEMORIES = ("vector", "conv", "both")
CONV_MEMORY_LEVEL = 3  # the ConvGRU lives at P / 2^3


class VectorMemory(nn.Module):
    """The paper's flat state: Linear(flatten(x_t)) -> f_t (feat,), LSTM -> h_t (hidden,)."""

    def __init__(self, in_ch: int, size: int | tuple[int, int], feat: int, hidden: int):
        super().__init__()
        sh, sw = (size, size) if isinstance(size, int) else size  # the encoder map's S or (Sh, Sw)
        self.fc = nn.Linear(in_ch * sh * sw, feat)
        self.lstm = nn.LSTM(feat, hidden, num_layers=1, batch_first=True)

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """x (N, T, C, Sh, Sw); shift unused (the flat state has no layout to move) -> (N*T, hidden)."""
        N, T = x.shape[:2]
        f = self.fc(x.flatten(2))  # (N, T, feat)
        h, _ = self.lstm(f)  # (N, T, hidden)
        return h.reshape(N * T, -1)


class ConvGRUMemory(nn.Module):
    """ConvGRU (3x3 gates) whose state is moved by the object's motion between updates.

    ``z, r = σ(W_x x_t + U h'), c = tanh(W_c x_t + U_c (r ⊙ h')), h_t = (1 - z) h' + z c`` with
    ``h' = h_{t-1}`` translated by ``shift_{t-1}``. The input convolutions run on all frames at once; only
    the state convolutions are sequential.
    """

    def __init__(self, in_ch: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.x_gates = nn.Conv2d(in_ch, 3 * hidden, 3, 1, 1)  # z, r, candidate
        self.h_gates = nn.Conv2d(hidden, 2 * hidden, 3, 1, 1, bias=False)  # z, r
        self.h_cand = nn.Conv2d(hidden, hidden, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """x (N, T, C, Sh, Sw); shift (N, T, 2): motion t -> t+1 living on t, in state pixels (dx, dy)
        -> (N*T, hidden, Sh, Sw). Shapes below write S, S for Sh, Sw."""
        N, T, _, Sh, Sw = x.shape
        hid = self.hidden
        gx = self.x_gates(x.flatten(0, 1)).view(N, T, 3, hid, Sh, Sw)
        h = x.new_zeros(N, hid, Sh, Sw)
        states = []
        for t in range(T):
            if t > 0:  # move the state with the object: h'(y) = h(y - shift)
                flow = -shift[:, t - 1, :, None, None].expand(N, 2, Sh, Sw)
                h = warp(h, flow.contiguous())
            hz, hr = self.h_gates(h).view(N, 2, hid, Sh, Sw).unbind(1)
            z = torch.sigmoid(gx[:, t, 0] + hz)
            r = torch.sigmoid(gx[:, t, 1] + hr)
            c = torch.tanh(gx[:, t, 2] + self.h_cand(r * h))
            h = (1 - z) * h + z * c
            states.append(h)
        return torch.stack(states, dim=1).flatten(0, 1)  # (N*T, hidden, S, S)


@dataclass
class State:
    """The memory's output for every frame, time-folded (N*T rows); None where that memory is off."""

    vector: torch.Tensor | None  # (N*T, hidden)
    spatial: torch.Tensor | None  # (N*T, hidden, S, S)


class Memory(nn.Module):
    """The vector memory, the conv memory at encoder level ``level`` (P / 2^level), or both."""

    def __init__(self, vector: VectorMemory | None, conv: ConvGRUMemory | None, level: int):
        super().__init__()
        assert vector is not None or conv is not None
        self.vector, self.conv, self.level = vector, conv, level

    def forward(self, maps: list[torch.Tensor], shift: torch.Tensor) -> State:
        """maps: the encoder's maps of every level, each (N, T, C, sh, sw); shift (N, T, 2): the object's
        motion t -> t+1 on t, in patch widths (a map's width times it gives its pixels along x and y: every
        level keeps the patch's aspect) -> State."""
        vec = self.vector(maps[-1], shift) if self.vector is not None else None
        spatial = None
        if self.conv is not None:
            x = maps[self.level - 1]  # (N, T, C, Sh, Sw)
            spatial = self.conv(x, shift * x.shape[-1])
        return State(vec, spatial)
