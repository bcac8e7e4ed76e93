"""Warping masks with a flow field: the parameter-free generator ``Warp`` of the paper (eq. 2).

Conventions (shared with savos.tracks and the Clip):

- Pixel (row r, col c) has its centre at x = c, y = r. Flow channel 0 is dx (columns), 1 is dy (rows),
  in pixels of the image being warped.
- ``warp(x, flow)`` is a *backward* bilinear sampling: ``out[y] = x[y + flow[y]]`` with zeros outside
  the image. It uses ``grid_sample(align_corners=True)``, under which the normalised coordinate -1 is
  the centre of pixel 0 and +1 the centre of pixel W-1; with pixel-centre coordinates this makes zero
  flow exactly the identity and an integer flow an exact shift (the original normalised with W instead
  of W-1 and so shifted everything by up to half a pixel). Padding to a size 2^k + 1 makes the
  float32 round trip through normalised coordinates exact, so these hold bit for bit.

Direction. Eq. 2 defines the prediction at t+1 by *forward* motion of frame t:
``M̂_{t+1}[x + Δ_t(x)] = M̃_t[x]``, where ``Δ_t`` lives on frame t. ``warp_forward(m_t, delta_t)``
approximates it by backward sampling with the negated flow evaluated at the target pixel,
``M̂_{t+1}(y) = M̃_t(y - Δ_t(y))``. This is exact where Δ is locally constant (a translating object —
and the motion predictor's output is a residual on the mean visible flow, i.e. a translation plus a
correction) and first order otherwise (error about |∇Δ|·|Δ| pixels). We prefer it to forward splatting
because splatting leaves holes where the motion expands and piles values above 1 where it contracts;
backward sampling always yields a mask in [0, 1] and is differentiable in both the mask and the flow.
Since Δ is learned only through this warp, the network simply learns the field that makes the
approximation right.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def coords_grid(n: int, h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel-centre coordinates: (n, 2, h, w) with [:, 0] = x (column) and [:, 1] = y (row)."""
    y, x = torch.meshgrid(
        torch.arange(h, device=device, dtype=dtype),
        torch.arange(w, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack([x, y], dim=0)[None].expand(n, 2, h, w)


def exact_size(n: int) -> int:
    """Smallest 2^k + 1 >= n (and >= 2): sizes for which grid_sample's coordinate normalisation is exact."""
    return (1 << max(n - 2, 0).bit_length()) + 1


def sample(x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling of x at pixel-centre coordinates, zeros outside.

    x: (N, C, H, W); coords: (N, 2, Ho, Wo) absolute (x, y) positions in x's pixels -> (N, C, Ho, Wo).
    Integer coordinates return the input values exactly (bit for bit): x is zero-padded on the bottom and
    right to ``exact_size`` (already so sized: no copy), for which -1 + 2 c / (size - 1) is a dyadic
    number that grid_sample maps back to c without rounding; the padding reads as the zeros outside.
    """
    assert x.dim() == 4 and coords.dim() == 4 and coords.shape[1] == 2, (x.shape, coords.shape)
    return _sample_last(pad_exact(x), coords.permute(0, 2, 3, 1))


def sample_affine(x: torch.Tensor, maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``sample`` at an affine map of the pixel grid: out[p] = x[A p + b] for every pixel p of a
    ``size`` = (H, W) grid, with ``maps`` (N, 2, 3) = [A | b] in pixel-centre (x, y) coordinates.

    x: (N, C, Hx, Wx), padded by ``pad_exact`` if not already (pad it once when sampling the same
    images many times) -> (N, C, H, W). Like ``sample``, a map to whole pixels returns the values bit
    for bit; the coordinates are made channels-last, as grid_sample takes them (no (N, 2, H, W) map).
    """
    assert x.dim() == 4 and maps.dim() == 3 and maps.shape[1:] == (2, 3), (x.shape, maps.shape)
    pix = coords_grid(1, *size, device=x.device, dtype=maps.dtype)[0].permute(1, 2, 0)  # (H, W, 2)
    coords = torch.einsum("nij,hwj->nhwi", maps[..., :2], pix) + maps[:, None, None, :, 2]
    return _sample_last(pad_exact(x), coords)


def pad_exact(x: torch.Tensor) -> torch.Tensor:
    """x (..., H, W) zero-padded on the bottom and right to ``exact_size`` (no copy if already so)."""
    H, W = exact_size(x.shape[-2]), exact_size(x.shape[-1])
    return x if (H, W) == tuple(x.shape[-2:]) else F.pad(x, (0, W - x.shape[-1], 0, H - x.shape[-2]))


def _sample_last(x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """grid_sample of x (N, C, H, W), already ``pad_exact``, at pixel coordinates (N, Ho, Wo, 2)."""
    H, W = x.shape[-2:]
    # align_corners=True: -1 and +1 are the centres of the first and last pixels.
    scale = torch.tensor([2.0 / (W - 1), 2.0 / (H - 1)], device=coords.device, dtype=coords.dtype)
    grid = (coords * scale - 1.0).to(x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: ``out[y] = x[y + flow[y]]`` (bilinear, zeros outside). Identity for zero flow.

    x: (N, C, H, W); flow: (N, 2, H, W) in pixels, (dx, dy) -> (N, C, H, W).
    """
    assert x.dim() == 4 and flow.dim() == 4 and flow.shape[1] == 2, (x.shape, flow.shape)
    assert x.shape[0] == flow.shape[0] and x.shape[-2:] == flow.shape[-2:], (x.shape, flow.shape)
    N, _, H, W = x.shape
    return sample(x, coords_grid(N, H, W, device=x.device, dtype=flow.dtype) + flow)


def warp_forward(m: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Eq. 2: move m along its forward motion, ``out[x + delta(x)] ≈ m[x]`` (see module docstring).

    m: (N, C, H, W) on frame t; delta: (N, 2, H, W) motion t -> t+1 living on frame t -> (N, C, H, W)
    on frame t+1, computed as ``warp(m, -delta)``.
    """
    return warp(m, -delta)
