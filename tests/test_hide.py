"""Travelling occluders (savos.training.hide, ``loss.occlude``): inputs only, the same place at every frame,
and the SaVos step's loss still reads the true masks."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from savos.config import LossConfig
from savos.models.savos import build_savos, masked_mean_flow
from savos.tracks import TrackBatch
from savos.training.hide import travelling_occluders
from savos.training.methods import savos_step

P = 32


def _batch(B=4, T=5) -> TrackBatch:
    """B tracks of T frames: an ellipse per track drifting one pixel per frame, a real occluder band."""
    g = torch.Generator().manual_seed(3)
    ys, xs = torch.meshgrid(torch.arange(P), torch.arange(P), indexing="ij")
    vis = torch.zeros(B, T, 1, P, P)
    for b in range(B):
        cy, cx = (10 + 10 * torch.rand(2, generator=g)).tolist()
        ry, rx = (5 + 4 * torch.rand(2, generator=g)).tolist()
        for t in range(T):
            vis[b, t, 0] = (((ys - cy) / ry) ** 2 + ((xs - cx - t) / rx) ** 2 <= 1).float()
    others = torch.zeros_like(vis)
    others[..., :, :4] = 1
    vis = vis * (1 - others)
    flow = torch.randn(B, T, 2, P, P, generator=g)
    return TrackBatch(rgb=torch.rand(B, T, 3, P, P, generator=g), visible=vis, others=others,
                      flow_fwd=flow, flow_bwd=-flow, valid=torch.ones(B, T, dtype=torch.bool),
                      amodal=vis.clone(), object_id=torch.arange(B), t0=torch.zeros(B, dtype=torch.long),
                      keys=[f"c{b}" for b in range(B)])


def test_zero_probability_is_the_batch_itself():
    batch = _batch()
    assert travelling_occluders(batch, 0.0) is batch


def test_occluder_hides_the_same_place_in_every_frame_on_the_inputs():
    batch = _batch()
    out = travelling_occluders(batch, 1.0)
    hidden = batch.visible - out.visible  # (B, T, 1, P, P): 1 where the occluder hid the object
    assert (hidden >= 0).all() and hidden.sum() > 0
    assert ((out.visible == 0) | (batch.visible == 1)).all()  # nothing added to the visible mask
    for b in range(batch.visible.shape[0]):
        hid = hidden[b].sum((0, 1)) > 0  # (P, P) pixels hidden at some frame
        if not hid.any():
            continue
        occ = out.others[b, :, 0] - batch.others[b, :, 0]  # (T, P, P) the occluder, added to others
        # the occluder (where it is not over a real one) is one mask, at every frame, covering what it hid
        free_of_real = 1 - batch.others[b, :, 0]
        assert torch.equal(occ * free_of_real, occ[0:1].expand_as(occ) * free_of_real)
        assert (occ[:, hid] + batch.others[b, :, 0][:, hid] >= 1).all()
        under = occ[0] > 0
        # another track's texture under the occluder, the track's own elsewhere
        assert torch.equal(out.rgb[b][:, :, under], batch.rgb[b - 1][:, :, under])
        free = ~under & (batch.others[b, 0, 0] == 0)  # neither occluder
        assert torch.equal(out.rgb[b][:, :, free], batch.rgb[b][:, :, free])
        mean = masked_mean_flow(batch.flow_fwd[b], out.visible[b])  # (T, 2) the visible part's motion
        assert torch.allclose(out.flow_fwd[b][:, :, under], mean[:, :, None].expand(-1, -1, int(under.sum())))
        assert torch.equal(out.flow_fwd[b][:, :, free], batch.flow_fwd[b][:, :, free])
    # truth, validity and identity are untouched
    for name in ("amodal", "valid", "object_id", "t0", "keys"):
        assert getattr(out, name) is getattr(batch, name)


def test_occluders_are_a_function_of_the_batch_and_follow_the_probability():
    batch = _batch(B=16)
    a, b = travelling_occluders(batch, 0.5), travelling_occluders(_batch(B=16), 0.5)
    assert torch.equal(a.visible, b.visible) and torch.equal(a.others, b.others)
    hit = (batch.visible - a.visible).sum((1, 2, 3, 4)) > 0
    assert 0 < int(hit.sum()) < 16
    moved = dataclasses.replace(batch, t0=batch.t0 + 1)  # another window: other occluders
    assert not torch.equal(travelling_occluders(moved, 0.5).visible, a.visible)


@pytest.mark.parametrize("training", [True, False])
def test_step_hides_inputs_in_training_only_and_scores_the_true_masks(training, monkeypatch):
    torch.manual_seed(0)
    model = build_savos(patch=P, enc_widths=(4, 8), feat=8, hidden=8, completer_widths=(4, 8),
                        motion_widths=(4, 8), others=True, carry=True)
    model.train(training)
    batch = _batch()
    seen = {}
    forward = model.forward

    def spy(b):
        seen["inputs"] = b
        return forward(b)

    monkeypatch.setattr(model, "forward", spy)
    import savos.training.methods as methods

    scored = {}
    real_loss = methods.savos_loss

    def loss_spy(out, b, **kw):
        scored["batch"] = b
        return real_loss(out, b, **kw)

    monkeypatch.setattr(methods, "savos_loss", loss_spy)
    with torch.set_grad_enabled(training):
        savos_step(model, batch, LossConfig(occlude=1.0))
    assert scored["batch"] is batch  # the loss reads the true visible and others masks
    if training:
        assert (seen["inputs"].visible.sum() < batch.visible.sum())
    else:
        assert seen["inputs"] is batch


def test_occlude_must_be_a_probability():
    from savos.errors import SavosError

    with pytest.raises(SavosError, match="occlude"):
        LossConfig(occlude=1.5)
