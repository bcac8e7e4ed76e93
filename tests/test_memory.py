"""SaVos's temporal state (savos/models/memory.py): the ConvGRU's shapes, that its state moves with the
object, and the whole network with the spatial memory and the other objects' masks."""

from __future__ import annotations

import pytest
import torch

from savos.errors import SavosError
from savos.models.memory import ConvGRUMemory, VectorMemory
from savos.models.savos import build_savos
from tests.test_model import SMALL, moving_squares, reverse

torch.set_num_threads(1)
P = 16


def test_conv_memory_shapes():
    mem = ConvGRUMemory(in_ch=6, hidden=5)
    h = mem(torch.randn(3, 4, 6, 8, 8), torch.zeros(3, 4, 2))
    assert h.shape == (3 * 4, 5, 8, 8)
    vec = VectorMemory(6, 8, feat=7, hidden=5)
    assert vec(torch.randn(3, 4, 6, 8, 8), torch.zeros(3, 4, 2)).shape == (12, 5)


def _remembering_gru() -> ConvGRUMemory:
    """hidden 1: writes tanh(3) where the input is 1 (z = 1), keeps the moved state where it is 0 (z = 0)."""
    mem = ConvGRUMemory(in_ch=1, hidden=1)
    with torch.no_grad():
        for p in mem.parameters():
            p.zero_()
        mem.x_gates.weight[0, 0, 1, 1] = 40.0  # z: 1 on the input, 0 elsewhere
        mem.x_gates.bias[0] = -20.0
        mem.x_gates.weight[2, 0, 1, 1] = 3.0  # candidate: tanh(3) on the input
    return mem


@pytest.mark.parametrize("shift", [(0.0, 0.0), (1.0, 0.0), (-1.0, 1.0)])
def test_conv_memory_state_moves_with_the_object(shift):
    x = torch.zeros(1, 3, 1, 8, 8)
    x[0, 0, 0, 3:5, 2:4] = 1.0  # seen at t = 0 only
    dx, dy = int(shift[0]), int(shift[1])
    with torch.no_grad():
        h = _remembering_gru()(x, torch.tensor(shift).expand(1, 3, 2)).view(3, 8, 8)
    first = h[0]
    assert first[3:5, 2:4].min() > 0.99 and first.sum() < 4.0
    for t in (1, 2):  # the remembered blob, moved t times by the object's motion
        expect = torch.roll(first, shifts=(t * dy, t * dx), dims=(0, 1))
        torch.testing.assert_close(h[t], expect)


@pytest.fixture(scope="module")
def conv_model():
    torch.manual_seed(0)
    return build_savos(**{**SMALL, "memory": "conv", "conv_hidden": 16, "others": True})


def test_conv_model_state_is_spatial_and_directions_mirror(conv_model):
    assert isinstance(conv_model.memory.conv, ConvGRUMemory) and conv_model.memory.vector is None
    batch = moving_squares()
    seen = {}
    hook = conv_model.memory.conv.register_forward_hook(lambda m, a, out: seen.__setitem__("h", out))
    try:
        out = conv_model(batch)
    finally:
        hook.remove()
    # SMALL has two levels: the state lives at the deepest one, P/4, with `hidden` channels; 2 directions
    assert seen["h"].shape == (2 * 2 * 5, SMALL["hidden"], P // 4, P // 4)
    assert out.amodal.shape == (2, 5, 1, P, P) and torch.isfinite(out.amodal).all()
    torch.testing.assert_close(out.alpha.sum(2), torch.ones(2, 5, P, P))
    merged = out.alpha[:, :, :1] * out.amodal_fwd + out.alpha[:, :, 1:] * out.amodal_bwd
    torch.testing.assert_close(out.amodal, merged)
    rev = conv_model(reverse(batch))
    torch.testing.assert_close(rev.amodal_fwd, out.amodal_bwd.flip(1))
    torch.testing.assert_close(rev.amodal, out.amodal.flip(1))
    torch.testing.assert_close(rev.motion_fwd, out.motion_bwd.flip(1))


def test_conv_memory_at_p_over_8_and_the_completer_sees_the_others():
    m = build_savos(patch=32, enc_widths=(4, 8, 8, 8), conv_hidden=4, completer_widths=(4, 4, 8, 8),
                    motion_widths=(4, 4, 8, 8), memory="conv", others=True)
    seen = {}
    hooks = [m.memory.conv.register_forward_hook(lambda mod, a, out: seen.__setitem__("h", out)),
             m.completer.down[0].register_forward_pre_hook(lambda mod, a: seen.__setitem__("a", a[0]))]
    b = moving_squares(B=1, T=3)
    up = lambda x: torch.nn.functional.interpolate(x.flatten(0, 1), size=32).view(1, 3, -1, 32, 32)  # noqa: E731
    big = type(b)(*[up(getattr(b, k)) for k in ("rgb", "visible", "others", "flow_fwd", "flow_bwd")],
                  b.valid, up(b.amodal))
    try:
        m(big)
    finally:
        for h in hooks:
            h.remove()
    assert seen["h"].shape == (2 * 3, 4, 4, 4)  # P/8
    torch.testing.assert_close(seen["a"], torch.cat([big.visible, big.others], 2).flatten(0, 1))


def test_unknown_memory_is_an_error():
    with pytest.raises(SavosError, match="memory must be one of vector, conv, both"):
        build_savos(**{**SMALL, "memory": "lstm"})


def test_one_clip_overfit_raises_the_occluded_iou(gum_root):
    """Self-supervised (no amodal label), the conv memory of the CPU recipe: on one batch of tiny Chewing-Gum
    tracks the hidden parts are completed better and better (the ground truth only measures)."""
    from pathlib import Path

    from savos.config import load_config
    from savos.training import distributed
    from savos.training.batches import StepBatches
    from savos.training.methods import METHODS
    from savos.training.train import train_step
    from savos.training.validation import crop_iou

    tiny = Path(__file__).parent.parent / "recipes" / "gum-tiny.yaml"
    config = load_config(tiny, [f"data.root={gum_root}", "train.threads=1", "model.memory=conv",
                                "model.others=false", "model.conv_hidden=8", "train.grad_clip=0"])
    batch = StepBatches(str(gum_root), "train", 16, 1.5, 8, 4, 0)[0]
    assert ((batch.amodal > 0.5) & (batch.visible <= 0.5)).any()  # there is something to complete
    torch.manual_seed(0)
    method = METHODS["savos"]
    model = method.build(config)
    opt = torch.optim.Adam(model.parameters())
    d = distributed.Dist(0, 1, torch.device("cpu"))

    def occluded_iou() -> float:
        with torch.no_grad():
            s, n = crop_iou(model(batch).amodal, batch)["occluded"]
        return s / n

    before = occluded_iou()
    for _ in range(120):
        train_step(model, opt, batch, method.step, config.loss, lr=1e-2, grad_clip=config.train.grad_clip,
                   d=d)
    after = occluded_iou()
    assert after > 0.2 and after > 2 * before, (before, after)
