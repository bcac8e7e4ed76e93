"""The per-frame U-Net and FrameCompleter of the learned baselines: shapes, finiteness, input checks,
rgb blacked out under the occluder, and predict_frames on a TrackBatch."""

from __future__ import annotations

import pytest
import torch

from savos.errors import SavosError
from savos.models.unet import FrameCompleter, UNet, build_frame_completer, predict_frames
from savos.tracks import TrackBatch


@pytest.mark.parametrize("widths, patch", [((4,), 8), ((4, 8), 16), ((16, 32, 64, 128), 64), ((8, 8, 8), 32),
                                           ((4, 8, 8), (16, 40)), ((4, 8), (24, 8))])
def test_unet_shapes_and_finite(widths, patch):
    torch.manual_seed(0)
    net = UNet(3, 2, widths)
    ph, pw = (patch, patch) if isinstance(patch, int) else patch
    x = torch.rand(5, 3, ph, pw)
    y = net(x)
    assert y.shape == (5, 2, ph, pw) and torch.isfinite(y).all()
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_unet_refuses_bad_sizes():
    with pytest.raises(SavosError, match="divisible by 2\\^3"):
        UNet(1, 1, (4, 8, 16))(torch.zeros(1, 1, 20, 20))
    with pytest.raises(SavosError, match="widths"):
        UNet(1, 1, ())
    with pytest.raises(SavosError, match="patch 24 must be divisible by 2\\^len\\(widths\\) = 2\\^4"):
        build_frame_completer(24, (4, 8, 16, 32))
    with pytest.raises(SavosError, match="divisible by 2\\^3"):
        UNet(1, 1, (4, 8, 16))(torch.zeros(1, 1, 16, 20))  # one side is enough to refuse
    with pytest.raises(SavosError, match="patch \\[32, 24\\] must be divisible"):
        build_frame_completer((32, 24), (4, 8, 16, 32))
    with pytest.raises(SavosError, match="5 input channels"):
        FrameCompleter(UNet(2, 1, (4,)), use_rgb=True)


def test_rgb_is_blacked_out_under_the_occluder():
    torch.manual_seed(0)
    net = build_frame_completer(16, (4, 8), use_rgb=True)
    vis = torch.zeros(2, 1, 16, 16)
    vis[:, :, 4:10, 4:10] = 1
    occ = torch.zeros(2, 1, 16, 16)
    occ[:, :, 8:14, 2:12] = 1
    rgb = torch.rand(2, 3, 16, 16)
    rgb2 = torch.where(occ > 0, torch.rand(2, 3, 16, 16), rgb)  # other colours under the occluder only
    assert torch.equal(net(vis, occ, rgb), net(vis, occ, rgb2))
    assert not torch.equal(net(vis, occ, rgb), net(vis, occ, torch.rand(2, 3, 16, 16)))
    masks_only = build_frame_completer(16, (4, 8), use_rgb=False)
    assert torch.equal(masks_only(vis, occ, rgb), masks_only(vis, occ, torch.rand(2, 3, 16, 16)))


def _batch(B=2, T=3, P=16) -> TrackBatch:
    g = torch.Generator().manual_seed(0)
    vis = (torch.rand(B, T, 1, P, P, generator=g) > 0.5).float()
    valid = torch.ones(B, T, dtype=torch.bool)
    valid[0, 1] = False
    vis[0, 1] = 0
    return TrackBatch(rgb=torch.rand(B, T, 3, P, P, generator=g), visible=vis, others=(1 - vis) * 0.5,
                      flow_fwd=torch.zeros(B, T, 2, P, P), flow_bwd=torch.zeros(B, T, 2, P, P), valid=valid,
                      amodal=vis.clone())


def test_predict_frames_shapes_and_invalid_frames_empty():
    torch.manual_seed(0)
    net = build_frame_completer(16, (4, 8))
    b = _batch()
    probs = predict_frames(net, b)
    assert probs.shape == (2, 3, 1, 16, 16) and probs.dtype == torch.float32
    assert (probs >= 0).all() and (probs <= 1).all()
    assert (probs[0, 1] == 0).all() and (probs[1] > 0).all()
    one = predict_frames(net, TrackBatch(**{k: getattr(b, k)[1:] for k in
                                            ("rgb", "visible", "others", "flow_fwd", "flow_bwd", "valid",
                                             "amodal")}))
    assert torch.allclose(one[0], probs[1], atol=1e-6)  # per frame: other tracks do not matter
