import pytest
import torch

from savos.errors import SavosError
from savos.models.memory import ConvGRUMemory, VectorMemory
from savos.models.savos import SaVos, SaVosOutput, build_savos, masked_mean_flow
from savos.tracks import TrackBatch
from savos.training.losses import savos_loss, supervised_loss

torch.set_num_threads(1)
P = 16
SMALL = dict(patch=P, enc_widths=(8, 16), feat=16, hidden=16, completer_widths=(8, 16), motion_widths=(8, 16))


def moving_squares(B=2, T=5, v=(1.0, 0.5), seed=0, size=(P, P)) -> TrackBatch:
    """Squares translating by v (patch px/frame) under a bar occluder, with exact visible flow.
    size: the patch (Ph, Pw)."""
    g = torch.Generator().manual_seed(seed)
    Ph, Pw = size
    y, x = torch.meshgrid(
        torch.arange(Ph, dtype=torch.float32), torch.arange(Pw, dtype=torch.float32), indexing="ij"
    )
    amodal = torch.zeros(B, T, 1, Ph, Pw)
    for b in range(B):
        ox, oy = 2.0 + b, 3.0
        for t in range(T):
            amodal[b, t, 0] = (
                (x >= ox + v[0] * t)
                & (x < ox + v[0] * t + 6)
                & (y >= oy + v[1] * t)
                & (y < oy + v[1] * t + 6)
            ).float()
    bar = ((y >= 6) & (y < 8)).float().expand(B, T, 1, Ph, Pw)
    visible = amodal * (1 - bar)
    vel = torch.tensor(v).view(1, 1, 2, 1, 1)
    flow_fwd = visible * vel
    flow_fwd[:, -1] = 0
    flow_bwd = -visible * vel
    flow_bwd[:, 0] = 0
    return TrackBatch(
        rgb=torch.rand(B, T, 3, Ph, Pw, generator=g) * 0.2 + 0.6 * visible,
        visible=visible,
        others=bar.clone(),
        flow_fwd=flow_fwd,
        flow_bwd=flow_bwd,
        valid=visible.flatten(2).amax(-1) > 0,
        amodal=amodal,
    )


def reverse(batch: TrackBatch) -> TrackBatch:
    """The same track played backwards: frames reversed, forward and backward flow swapped."""
    f = lambda x: x.flip(1)  # noqa: E731
    return TrackBatch(
        f(batch.rgb),
        f(batch.visible),
        f(batch.others),
        f(batch.flow_bwd),
        f(batch.flow_fwd),
        f(batch.valid),
        f(batch.amodal),
    )


@pytest.fixture(scope="module")
def model() -> SaVos:
    torch.manual_seed(0)
    return build_savos(**SMALL)


def test_output_shapes_ranges_and_merge(model):
    batch = moving_squares()
    out = model(batch)
    assert isinstance(out, SaVosOutput)
    for name in ("amodal", "amodal_fwd", "amodal_bwd", "logits_fwd", "logits_bwd"):
        assert getattr(out, name).shape == (2, 5, 1, P, P), name
    for name in ("motion_fwd", "motion_bwd", "alpha"):
        assert getattr(out, name).shape == (2, 5, 2, P, P), name
    assert out.mean_flow_fwd.shape == (2, 5, 2)
    assert all(torch.isfinite(v).all() for v in vars(out).values())
    assert 0 <= out.amodal.min() and out.amodal.max() <= 1
    torch.testing.assert_close(out.alpha.sum(2), torch.ones(2, 5, P, P))
    merged = out.alpha[:, :, :1] * out.amodal_fwd + out.alpha[:, :, 1:] * out.amodal_bwd  # eq. 8
    torch.testing.assert_close(out.amodal, merged)


def test_default_model_runs_at_64():
    m = build_savos()
    b = moving_squares(B=1, T=2)
    big = TrackBatch(
        *[
            torch.nn.functional.interpolate(getattr(b, k).flatten(0, 1), size=64).view(1, 2, -1, 64, 64)
            for k in ("rgb", "visible", "others", "flow_fwd", "flow_bwd")
        ],
        b.valid,
        b.amodal.repeat(1, 1, 1, 4, 4),
    )
    assert m(big).amodal.shape == (1, 2, 1, 64, 64)


def test_completer_sees_the_visible_mask_and_motion_the_flow(model):
    batch = moving_squares()
    seen = {}
    h1 = model.completer.down[0].register_forward_pre_hook(lambda m, a: seen.__setitem__("a", a[0].clone()))
    h2 = model.motion.down[0].register_forward_pre_hook(lambda m, a: seen.__setitem__("c", a[0].clone()))
    try:
        model(batch)
    finally:
        h1.remove()
        h2.remove()
    B, T = 2, 5
    torch.testing.assert_close(seen["a"], batch.visible.flatten(0, 1))  # V_t, not a flow channel
    fs = model.flow_scale
    c = seen["c"].view(2 * B, T, 3, P, P)
    torch.testing.assert_close(c[:B, :, :2], batch.flow_fwd / fs)
    torch.testing.assert_close(c[B:, :, :2], batch.flow_bwd.flip(1) / fs)  # reversed time: backward flow
    torch.testing.assert_close(c[:B, :, 2:], batch.visible)


def test_initial_motion_is_the_common_fate(model):
    batch = moving_squares()
    out = model(batch)
    expect = masked_mean_flow(batch.flow_fwd.flatten(0, 1), batch.visible.flatten(0, 1)).view(2, 5, 2)
    torch.testing.assert_close(out.mean_flow_fwd, expect)
    torch.testing.assert_close(out.mean_flow_fwd[:, :-1], torch.tensor([1.0, 0.5]).expand(2, 4, 2))
    torch.testing.assert_close(out.motion_fwd, out.mean_flow_fwd[..., None, None].expand(2, 5, 2, P, P))
    torch.testing.assert_close(out.mean_flow_bwd[:, 1:], torch.tensor([-1.0, -0.5]).expand(2, 4, 2))


def test_time_reversal_swaps_the_directions(model):
    batch = moving_squares()
    out, rev = model(batch), model(reverse(batch))
    torch.testing.assert_close(rev.amodal_fwd, out.amodal_bwd.flip(1))
    torch.testing.assert_close(rev.amodal_bwd, out.amodal_fwd.flip(1))
    torch.testing.assert_close(rev.motion_fwd, out.motion_bwd.flip(1))
    torch.testing.assert_close(rev.amodal, out.amodal.flip(1))


def test_consistency_loss_trains_the_motion_predictor():
    torch.manual_seed(1)
    m = build_savos(**SMALL)
    batch = moving_squares()
    out = m(batch)
    out.motion_fwd.retain_grad()
    savos_loss(out, batch, lambda1=0.0, lambda2=1.0)["total"].backward()  # L_C only
    assert out.motion_fwd.grad.abs().max() > 0  # not detached
    assert m.motion.head.weight.grad.abs().max() > 0
    assert m.completer.head.weight.grad.abs().max() > 0


def test_invalid_frames_do_not_crash_or_poison_gradients(model):
    batch = moving_squares(T=6)
    batch.visible[:, 2:4] = 0
    batch.flow_fwd[:, 2:4] = 0
    batch.flow_bwd[:, 2:4] = 0
    batch.valid[:, 2:4] = False
    batch.valid[1] = False  # an object never visible in the window
    batch.visible[1] = 0
    model.zero_grad()
    out = model(batch)
    assert all(torch.isfinite(v).all() for v in vars(out).values())
    loss = savos_loss(out, batch, 1.0, 1.0)
    assert torch.isfinite(loss["total"])
    (loss["total"] + supervised_loss(out, batch)["total"]).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(2)
    m = build_savos(**SMALL)
    batch = moving_squares(B=2, T=4)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = savos_loss(m(batch), batch, 1.0, 1.0)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_build_savos_checks_and_accepts_lists():
    m = build_savos(**{**SMALL, "enc_widths": [8, 16], "completer_widths": [8, 16], "skips": False})
    assert m(moving_squares(B=1, T=2)).amodal.shape == (1, 2, 1, P, P)
    with pytest.raises(SavosError, match="patch"):
        build_savos(**{**SMALL, "patch": 18})


WIDE = (16, 32)  # (Ph, Pw)
THREE = dict(enc_widths=(4, 8, 8), feat=8, hidden=8, completer_widths=(4, 8, 8), motion_widths=(4, 8, 8))


@pytest.mark.parametrize("memory", ["vector", "conv", "both"])
@pytest.mark.parametrize("size", [WIDE, WIDE[::-1]])
def test_non_square_patches(memory, size):
    torch.manual_seed(0)
    m = build_savos(patch=size, memory=memory, others=memory == "conv", **THREE)
    batch = moving_squares(B=2, T=4, size=size)
    out = m(batch)
    for name in ("amodal", "amodal_fwd", "amodal_bwd", "logits_fwd", "logits_bwd"):
        assert getattr(out, name).shape == (2, 4, 1, *size), name
    assert out.motion_fwd.shape == out.alpha.shape == (2, 4, 2, *size)
    # the motion starts as the common fate, now over a non-square patch
    torch.testing.assert_close(out.motion_fwd, out.mean_flow_fwd[..., None, None].expand(2, 4, 2, *size))
    torch.testing.assert_close(out.mean_flow_fwd[:, :-1], torch.tensor([1.0, 0.5]).expand(2, 3, 2))
    loss = savos_loss(out, batch, 1.0, 1.0)["total"]
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    if memory != "conv":  # the flat state: Linear over the (Ph/8, Pw/8) encoder map
        lstm = next(mod for mod in m.modules() if isinstance(mod, VectorMemory))
        assert lstm.fc.in_features == 8 * (size[0] // 8) * (size[1] // 8)


def test_conv_memory_moves_its_state_by_the_flow_in_state_pixels_on_non_square_patches():
    torch.manual_seed(0)
    m = build_savos(patch=WIDE, memory="conv", **THREE)  # state at (Ph/8, Pw/8) = (2, 4)
    seen = {}
    gru = next(mod for mod in m.modules() if isinstance(mod, ConvGRUMemory))  # gets shifts in state px
    hook = gru.register_forward_pre_hook(lambda mod, args: seen.__setitem__("shift", args[1].clone()))
    try:
        m(moving_squares(B=1, T=3, v=(1.0, 0.5), size=WIDE))
    finally:
        hook.remove()
    # 1 patch pixel is 1/8 state pixel along both axes (not Sw / Ph or Sh / Pw)
    torch.testing.assert_close(seen["shift"][0, :2], torch.tensor([[0.125, 0.0625]] * 2))


def test_build_savos_checks_each_side():
    with pytest.raises(SavosError, match=r"patch \[16, 20\] must be divisible by 2\^len\(enc_widths\) = "
                       r"2\^3 \(each side\)"):
        build_savos(patch=(16, 20), **THREE)
