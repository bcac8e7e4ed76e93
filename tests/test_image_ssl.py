"""The image-level self-supervised objective (method "image-ssl", savos/training/image_ssl.py): the
artificial occlusion hides only visible pixels, follows the two PCNet-M cases, comes from another track, is a
pure function of the generator; the loss weights and masks; the ground truth is never read."""

from __future__ import annotations

import math

import pytest
import torch

from savos.config import LossConfig
from savos.models.unet import build_frame_completer
from savos.tracks import TrackBatch
from savos.training.image_ssl import (
    ImageSSL,
    artificial_occlusion,
    batch_seed,
    deocclusion_loss,
    image_ssl_step,
)

P = 32


def _blob(B: int, T: int, seed: int, size=(P, P)) -> torch.Tensor:
    """Random soft-edged blobs (B*T, 1, Ph, Pw), one shape per track drifting over its frames."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size[0]), torch.arange(size[1]), indexing="ij")
    out = []
    for _ in range(B):
        half = torch.tensor(size) / 2
        cy, cx = (half / 2 + half * torch.rand(2, generator=g)).tolist()
        ry, rx = (4 + 6 * torch.rand(2, generator=g)).tolist()
        for t in range(T):
            d = ((ys - cy - t) / ry) ** 2 + ((xs - cx) / rx) ** 2
            out.append((1.5 - d).clamp(0, 1)[None])
    return torch.stack(out)


def _occlude(front_prob=0.8, seed=0, B=3, T=4, max_offset=0.25, size=(P, P)):
    vis = _blob(B, T, 1, size)
    others = torch.zeros_like(vis)
    others[..., :, :5] = 1.0  # a real occluder band on the left, disjoint from V where V is
    others = others * (1 - vis)
    group = torch.arange(B).repeat_interleave(T)
    valid = torch.ones(B * T, dtype=torch.bool)
    occ = artificial_occlusion(vis, others, group, valid, front_prob, max_offset,
                               torch.Generator().manual_seed(seed))
    return vis, others, occ


@pytest.mark.parametrize("front_prob, size", [(0.0, (P, P)), (0.5, (P, P)), (1.0, (P, P)), (0.5, (24, 48)),
                                             (1.0, (48, 24))])
def test_artificial_occlusion_cases(front_prob, size):
    vis, others, occ = _occlude(front_prob, size=size)
    eps = 1e-6
    assert (occ.visible <= vis + eps).all()  # input ⊆ target
    assert (occ.occluder >= others - eps).all() and (occ.occluder >= occ.artificial - eps).all()
    assert (occ.occluder <= 1 + eps).all() and (occ.visible >= 0).all()
    f = occ.front
    assert f.float().mean() == front_prob if front_prob in (0.0, 1.0) else 0 < f.float().mean() < 1
    # case 1: V ∧ ¬O with O as input; case 2: V itself, the occluder cut to its part outside V
    assert torch.allclose(occ.visible[f], vis[f] * (1 - occ.artificial[f]), atol=eps)
    assert torch.equal(occ.visible[~f], vis[~f])
    if (~f).any():  # O ∧ ¬V = O (1 - V) overlaps the soft mask V only at its edges: V (1 - V) <= 1/4
        assert (occ.artificial[~f] * vis[~f]).amax() <= 0.25 + eps
    if f.any():  # the occluders really hide part of V
        hidden = (occ.artificial[f] * vis[f]).sum((1, 2, 3)) / vis[f].sum((1, 2, 3))
        assert (hidden > 0.02).float().mean() > 0.8, hidden


def test_artificial_occlusion_is_a_pure_function_of_the_generator():
    a, b, c = _occlude(seed=3)[2], _occlude(seed=3)[2], _occlude(seed=4)[2]
    assert torch.equal(a.visible, b.visible) and torch.equal(a.occluder, b.occluder)
    assert not torch.equal(a.occluder, c.occluder)


def test_occluders_come_from_other_tracks():
    B, T = 2, 3
    vis = torch.zeros(B * T, 1, P, P)
    vis[:T, :, 10:20, 10:20] = 1  # track 0: a 10x10 square (area 100)
    vis[T:, :, 14:18, 5:25] = 1  # track 1: a 4x20 bar (area 80)
    group = torch.arange(B).repeat_interleave(T)
    for seed in range(5):  # max_offset 0: centred on V's centre, so the source lies wholly inside
        occ = artificial_occlusion(vis, torch.zeros_like(vis), group, torch.ones(B * T, dtype=torch.bool),
                                   1.0, 0.0, torch.Generator().manual_seed(seed))
        area = occ.artificial.sum((1, 2, 3))
        assert area[:T].tolist() == [80.0] * T and area[T:].tolist() == [100.0] * T
    # one track only: occluders come from its other frames
    occ = artificial_occlusion(vis[:T], torch.zeros_like(vis[:T]), torch.zeros(T, dtype=torch.long),
                               torch.ones(T, dtype=torch.bool), 1.0, 0.0, torch.Generator().manual_seed(0))
    assert torch.isfinite(occ.occluder).all() and (occ.artificial.sum((1, 2, 3)) == 100).all()


@pytest.mark.parametrize("transpose", [False, True])
def test_occluders_keep_their_shape_on_non_square_patches(transpose):
    B, T, size = 2, 3, (16, 40)
    vis = torch.zeros(B * T, 1, *size)
    vis[:T, :, 5:11, 17:23] = 1  # track 0: a 6x6 square (area 36), centre (7.5, 19.5)
    vis[T:, :, 6:10, 10:30] = 1  # track 1: a 4x20 bar (area 80), the same centre
    if transpose:  # a tall patch holding a tall bar
        vis = vis.transpose(2, 3).contiguous()
    group = torch.arange(B).repeat_interleave(T)
    for seed in range(5):  # max_offset 0: flipped or not, each source lands wholly inside the patch
        occ = artificial_occlusion(vis, torch.zeros_like(vis), group, torch.ones(B * T, dtype=torch.bool),
                                   1.0, 0.0, torch.Generator().manual_seed(seed))
        area = occ.artificial.sum((1, 2, 3))
        assert area[:T].tolist() == [80.0] * T and area[T:].tolist() == [36.0] * T
        assert torch.equal(occ.artificial[:T], vis[T:])  # the bar, centred on the square: itself
    torch.manual_seed(0)
    hw = tuple(vis.shape[-2:])
    model = ImageSSL(build_frame_completer(hw, (4, 8)), 0.8, 5.0, 0.25, True)
    batch = TrackBatch(rgb=torch.rand(B, T, 3, *hw), visible=vis.view(B, T, 1, *hw),
                       others=torch.zeros(B, T, 1, *hw), flow_fwd=torch.zeros(B, T, 2, *hw),
                       flow_bwd=torch.zeros(B, T, 2, *hw), valid=torch.ones(B, T, dtype=torch.bool),
                       amodal=vis.view(B, T, 1, *hw))
    losses, probs = image_ssl_step(model, batch, LossConfig())
    assert probs.shape == (B, T, 1, *hw) and torch.isfinite(losses["total"])


def test_loss_weights_and_ignored_others():
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :] = 1
    art, others = torch.zeros_like(target), torch.zeros_like(target)
    art[..., 0, :] = 1  # one row in the artificial occluder
    others[..., 3, :] = 1  # one row of real others
    logits = torch.zeros_like(target)  # BCE = log 2 everywhere
    valid = torch.ones(1, dtype=torch.bool)
    got = deocclusion_loss(logits, target, art, others, valid, 5.0, ignore_others=True)
    assert float(got) == pytest.approx(math.log(2) * (4 * 5 + 8 * 1 + 4 * 0) / 16)
    got = deocclusion_loss(logits, target, art, others, valid, 5.0, ignore_others=False)
    assert float(got) == pytest.approx(math.log(2) * (4 * 5 + 12) / 16)
    poked = logits.clone()
    poked[..., 3, :] = 7.0  # whatever is predicted under real others costs nothing
    assert float(deocclusion_loss(poked, target, art, others, valid, 5.0, True)) == float(
        deocclusion_loss(logits, target, art, others, valid, 5.0, True))
    nan = torch.full_like(logits, float("nan"))  # invalid images are out, NaNs included
    two = deocclusion_loss(torch.cat([logits, nan]), target.repeat(2, 1, 1, 1), art.repeat(2, 1, 1, 1),
                           others.repeat(2, 1, 1, 1), torch.tensor([True, False]), 5.0, True)
    assert float(two) == pytest.approx(math.log(2) * 28 / 16)
    assert float(deocclusion_loss(logits, target, art, others, ~valid, 5.0, True)) == 0.0


def _track_batch(B=2, T=4) -> TrackBatch:
    vis = _blob(B, T, 2).view(B, T, 1, P, P)
    others = torch.zeros_like(vis)
    others[..., :, 24:] = 1
    others = others * (1 - vis)
    g = torch.Generator().manual_seed(0)
    return TrackBatch(rgb=torch.rand(B, T, 3, P, P, generator=g), visible=vis, others=others,
                      flow_fwd=torch.zeros(B, T, 2, P, P), flow_bwd=torch.zeros(B, T, 2, P, P),
                      valid=torch.ones(B, T, dtype=torch.bool), amodal=torch.clamp(vis + others, 0, 1),
                      object_id=torch.zeros(B, dtype=torch.long), t0=torch.arange(B), keys=["a"] * B)


def test_step_never_reads_the_ground_truth():
    torch.manual_seed(0)
    model = ImageSSL(build_frame_completer(P, (4, 8)), 0.8, 5.0, 0.25, True)
    batch = _track_batch()
    losses, probs = image_ssl_step(model, batch, LossConfig())
    batch.amodal = torch.full_like(batch.amodal, float("nan"))
    again, probs2 = image_ssl_step(model, batch, LossConfig())
    assert torch.isfinite(again["total"]) and again["total"].item() == losses["total"].item()
    again["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()  # validation: the test-time prediction, finite as well
    with torch.no_grad():
        _, probs = image_ssl_step(model, batch, LossConfig())
    assert probs.shape == (2, 4, 1, P, P) and torch.isfinite(probs).all()


def test_batch_seed_is_stable_and_follows_the_batch():
    a = _track_batch()
    assert batch_seed(a) == batch_seed(_track_batch())
    b = _track_batch()
    b.t0 = b.t0 + 1
    assert batch_seed(a) != batch_seed(b)
    a.keys = []  # no identity: the content decides
    assert batch_seed(a) == batch_seed(a) and batch_seed(a) != batch_seed(b)
