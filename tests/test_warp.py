import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from savos.warp import coords_grid, exact_size, pad_exact, sample, sample_affine, warp, warp_forward


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-for-bit equal: integer sampling positions must not go through any rounding."""
    return torch.equal(a, b)


def shifted(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """out[r, c] = x[r + dy, c + dx], zero outside: what a backward warp by (dx, dy) must give."""
    H, W = x.shape[-2:]
    out = torch.zeros_like(x)
    r = torch.arange(H)
    c = torch.arange(W)
    rs, cs = r + dy, c + dx
    rk, ck = (rs >= 0) & (rs < H), (cs >= 0) & (cs < W)
    out[..., r[rk][:, None], c[ck][None, :]] = x[..., rs[rk][:, None], cs[ck][None, :]]
    return out


def test_coords_grid_is_pixel_centres():
    g = coords_grid(2, 3, 4)
    assert g.shape == (2, 2, 3, 4)
    assert g[0, 0, 1, 3] == 3 and g[0, 1, 1, 3] == 1  # channel 0 = x (column), 1 = y (row)


def test_zero_flow_is_identity():
    x = torch.rand(3, 2, 7, 9, generator=torch.Generator().manual_seed(0))
    assert same(warp(x, torch.zeros(3, 2, 7, 9)), x)
    assert same(warp_forward(x, torch.zeros(3, 2, 7, 9)), x)


@pytest.mark.parametrize("dx,dy", [(1, 0), (0, 1), (-2, 3), (4, -1)])
def test_integer_flow_shifts_exactly(dx, dy):
    x = torch.rand(2, 3, 8, 10, generator=torch.Generator().manual_seed(1))
    flow = torch.tensor([float(dx), float(dy)]).view(1, 2, 1, 1).expand(2, 2, 8, 10)
    assert same(warp(x, flow), shifted(x, dx, dy))


@settings(max_examples=30, deadline=None)
@given(dx=st.integers(-6, 6), dy=st.integers(-6, 6), h=st.integers(2, 12), w=st.integers(2, 12))
def test_integer_shift_property(dx, dy, h, w):
    x = torch.from_numpy(np.random.default_rng([h, w]).random((1, 1, h, w)).astype(np.float32))
    flow = torch.tensor([float(dx), float(dy)]).view(1, 2, 1, 1).expand(1, 2, h, w)
    assert same(warp(x, flow), shifted(x, dx, dy))


def test_warp_forward_moves_mask_along_motion():
    # Eq. 2: M̂[x + Δ] = M[x]. A square at columns 2..4, rows 1..3 moved by (+3, +2).
    m = torch.zeros(1, 1, 10, 10)
    m[..., 1:4, 2:5] = 1.0
    delta = torch.tensor([3.0, 2.0]).view(1, 2, 1, 1).expand(1, 2, 10, 10)
    expect = torch.zeros_like(m)
    expect[..., 3:6, 5:8] = 1.0
    assert same(warp_forward(m, delta), expect)


def test_half_pixel_flow_is_bilinear_and_differentiable():
    x = torch.arange(5.0).view(1, 1, 1, 5)  # a ramp: bilinear sampling is exact on it
    flow = torch.zeros(1, 2, 1, 5)
    flow[:, 0] = 0.5
    flow.requires_grad_(True)
    out = warp(x, flow)
    assert torch.allclose(out.detach()[0, 0, 0, :4], torch.tensor([0.5, 1.5, 2.5, 3.5]))
    assert out[0, 0, 0, 4].item() == pytest.approx(2.0)  # half of pixel 4, half of the zero outside
    out.sum().backward()
    assert flow.grad is not None and flow.grad[0, 0, 0, 1].item() == pytest.approx(1.0)


@pytest.mark.parametrize("n,size", [(1, 2), (2, 2), (3, 3), (4, 5), (10, 17), (64, 65), (65, 65), (66, 129)])
def test_exact_size(n, size):
    assert exact_size(n) == size


def test_sample_at_integer_centres_returns_input():
    x = torch.rand(1, 2, 5, 6, generator=torch.Generator().manual_seed(2))
    assert same(sample(x, coords_grid(1, 5, 6)), x)


def test_sample_affine_is_sample_at_the_mapped_grid():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 20, 23, generator=g)
    maps = torch.tensor([[[1.0, 0.0, 3.0], [0.0, 1.0, -2.0]],  # a whole-pixel shift: exact
                         [[0.96, -0.21, 1.3], [0.2, 1.04, 0.45]]])  # a rotation, a scale, a sub-pixel shift
    out = sample_affine(x, maps, (20, 23))
    assert same(out[:1], shifted(x[:1], 3, -2))
    grid = coords_grid(1, 20, 23)[0]
    coords = torch.einsum("nij,jhw->nihw", maps[:, :, :2], grid) + maps[:, :, 2, None, None]
    assert torch.allclose(out, sample(x, coords), atol=1e-6)
    assert same(sample_affine(pad_exact(x), maps, (20, 23)), out)  # pre-padded input: same result
