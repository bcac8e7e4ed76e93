"""Carrying visible masks through time (savos.models.carry), the model option that uses it, and the
non-learned `union` baseline built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from savos.data.clip import Clip
from savos.errors import SavosError
from savos.evaluation.baselines import BASELINES, convex_baseline, union_baseline
from savos.evaluation.metrics import score_clip, summarize
from savos.models.carry import affine_field, affine_fit, carry
from savos.models.savos import build_savos
from savos.tracks import TrackBatch

H = W = 24


def _blob(seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    m = np.zeros((H, W), np.float32)
    m[5:15, 6:18] = 1.0
    m[rng.integers(5, 15, 12), rng.integers(6, 18, 12)] = 0.0  # ragged, not a rectangle
    return torch.from_numpy(m)[None, None]


def test_affine_fit_recovers_an_affine_field_everywhere_from_a_patch():
    jac = torch.tensor([[[0.05, -0.1], [0.08, 0.02]]])
    mean = torch.tensor([[1.5, -0.75]])
    centre = torch.tensor([[11.0, 9.0]])
    truth = affine_field((mean, jac, centre), H, W)  # (1, 2, H, W)
    weight = _blob(0)
    fit = affine_fit(truth, weight, ridge=0.0)
    assert torch.allclose(affine_field(fit, H, W), truth, atol=1e-4)  # also far outside the patch
    # the ridge shrinks the jacobian towards a translation, never the mean flow over the patch
    shrunk = affine_fit(truth, weight, ridge=5.0)
    assert shrunk[1].abs().sum() < fit[1].abs().sum()
    empty = affine_fit(truth, torch.zeros_like(weight))
    assert not affine_field(empty, H, W).any()


def _square_sliding_behind_a_bar(T: int = 6, step: int = 2):
    """A 6 x 6 square moving right by ``step`` px per frame behind a static bar over columns 10..13.

    Returns amodal, visible (1, T, 1, H, W) float and flow_back (1, T, 2, H, W): the true motion t -> t-1
    on the visible pixels, and junk (the bar's zero flow) elsewhere."""
    amodal = torch.zeros(1, T, 1, H, W)
    for t in range(T):
        amodal[0, t, 0, 8:14, 2 + step * t : 8 + step * t] = 1.0
    bar = torch.zeros(H, W)
    bar[:, 10:14] = 1.0
    visible = amodal * (1.0 - bar)
    flow_back = torch.zeros(1, T, 2, H, W)
    flow_back[:, 1:, 0] = -step * visible[:, 1:, 0]
    return amodal, visible, flow_back


def test_carry_restores_what_was_seen_and_never_reads_the_future():
    amodal, visible, flow_back = _square_sliding_behind_a_bar()
    seen = carry(visible, flow_back)
    assert torch.all(seen >= visible)
    # frame 4 (columns 10..15): columns 10..13 are behind the bar now, but were seen at frames 0..2
    assert torch.equal(seen[0, 4, 0] >= 0.5, amodal[0, 4, 0] > 0)
    assert torch.allclose(seen[0, 4], amodal[0, 4], atol=1e-5)  # integer motion: the warps are exact
    # causality: changing the last frame changes nothing before it
    other = visible.clone()
    other[0, -1] = 0.0
    assert torch.equal(carry(other, flow_back)[:, :-1], seen[:, :-1])


def test_a_frame_where_the_object_is_hidden_reuses_the_last_motion():
    amodal, visible, flow_back = _square_sliding_behind_a_bar(T=5)
    visible[0, 3] = 0.0  # fully hidden at frame 3: no flow to fit there
    flow_back[0, 3] = 0.0
    seen = carry(visible, flow_back)
    assert torch.equal(seen[0, 3, 0] >= 0.5, amodal[0, 3, 0] > 0)  # moved on at the last speed
    assert torch.equal(seen[0, 4, 0] >= 0.5, amodal[0, 4, 0] > 0)


def test_each_visible_mask_is_resampled_once_so_half_pixel_steps_stay_sharp():
    # the square is seen at frame 0 only, then moves right by half a pixel a frame (a 3 x 3 patch far
    # below it stays visible, so every frame's motion is fitted); by frame 4 it has moved 2 whole
    # pixels, and one resampling by the composed motion lands it there exactly. A mask warped again
    # each frame would be blurred by every half-pixel step.
    T = 5
    visible = torch.zeros(1, T, 1, H, W)
    visible[0, 0, 0, 2:8, 3:9] = 1.0
    visible[0, :, 0, 18:21, 10:13] = 1.0
    flow_back = torch.zeros(1, T, 2, H, W)
    flow_back[:, 1:, 0] = -0.5
    seen = carry(visible, flow_back)
    expected = torch.zeros(H, W)
    expected[2:8, 5:11] = 1.0
    assert torch.equal(seen[0, 4, 0, :12], expected[:12])
    assert torch.equal(seen[0, 2, 0, :12], torch.roll(visible[0, 0, 0], 1, dims=1)[:12])


def _batch(T: int = 5, P: int = 32, seed: int = 0) -> TrackBatch:
    g = torch.Generator().manual_seed(seed)
    vis = (torch.rand(2, T, 1, P, P, generator=g) > 0.5).float()
    return TrackBatch(
        rgb=torch.rand(2, T, 3, P, P, generator=g), visible=vis, others=torch.zeros_like(vis),
        amodal=vis.clone(), flow_fwd=torch.randn(2, T, 2, P, P, generator=g),
        flow_bwd=torch.randn(2, T, 2, P, P, generator=g), valid=torch.ones(2, T, dtype=torch.bool),
        known=torch.ones(2, T, dtype=torch.bool))


def test_savos_with_carry_keeps_each_direction_causal():
    torch.manual_seed(0)
    model = build_savos(patch=32, carry=True).eval()
    with torch.no_grad():
        out = model(_batch())
    assert out.amodal.shape == (2, 5, 1, 32, 32) and model.completer.down[0][0].in_channels == 2
    late = _batch()
    late.visible[:, 3:] = 1.0 - late.visible[:, 3:]  # frames 3 and 4 differ
    early = _batch()
    early.visible[:, :2] = 1.0 - early.visible[:, :2]  # frames 0 and 1 differ
    with torch.no_grad():
        out_late, out_early = model(late), model(early)
    # the forward chain at t reads only frames <= t, the backward chain only frames >= t: neither can see
    # the visible mask that its own L_M term compares with
    assert torch.equal(out_late.amodal_fwd[:, :3], out.amodal_fwd[:, :3])
    assert not torch.equal(out_late.amodal_fwd[:, 3:], out.amodal_fwd[:, 3:])
    assert torch.equal(out_early.amodal_bwd[:, 2:], out.amodal_bwd[:, 2:])


def test_carry_clip_gives_each_direction_the_whole_clip():
    torch.manual_seed(0)
    model = build_savos(patch=32, carry=True, carry_clip=True).eval()
    assert model.completer.down[0][0].in_channels == 3  # V_t, own A_t, the other direction's A_t
    late = _batch()
    late.visible[:, 3:] = 1.0 - late.visible[:, 3:]  # frames 3 and 4 differ
    with torch.no_grad():
        out, out_late = model(_batch()), model(late)
    # the forward completer at frame 0 now reads the backward carry, which holds frames 3 and 4 ...
    assert not torch.equal(out_late.amodal_fwd[:, :3], out.amodal_fwd[:, :3])
    # ... and that channel is the backward direction's own carry, in normal time order
    own = carry(torch.cat([late.visible, late.visible.flip(1)]),
                torch.cat([late.flow_bwd, late.flow_fwd.flip(1)]))
    seen = {}
    model.completer.down[0].register_forward_pre_hook(lambda m, i: seen.update(x=i[0]))
    with torch.no_grad():
        model(late)
    x = seen["x"].view(4, 5, 3, 32, 32)  # (2B, T, C, P, P): rows 0..1 forward, 2..3 reversed
    assert torch.equal(x[:2, :, 2:3], own[2:].flip(1)) and torch.equal(x[2:, :, 2:3], own[:2].flip(1))
    assert torch.equal(x[:2, :, 1:2], own[:2])
    with pytest.raises(SavosError, match="carry_clip needs carry"):
        build_savos(patch=32, carry_clip=True)


def _sliding_l_clip() -> Clip:
    """An L-shaped object (non-convex) sliding right behind a static bar, in front of nothing else: the
    hidden part was visible earlier or later; the convex hull cannot know the notch."""
    T, step = 8, 2
    amodal = np.zeros((T, 2, H, W), bool)
    for t in range(T):
        x = 1 + step * t
        amodal[t, 0, 6:16, x : x + 3] = True  # the L's stem
        amodal[t, 0, 13:16, x : x + 9] = True  # its foot
    amodal[:, 1, :, 11:14] = True  # the bar, in front
    visible = np.where(amodal[:, 1], 2, np.where(amodal[:, 0], 1, 0)).astype(np.uint8)
    flow = np.zeros((T - 1, H, W, 2), np.float32)
    flow[..., 0] = np.where(visible[1:] == 1, -step, 0)  # flow_bwd lives on t+1
    fwd = np.zeros_like(flow)
    fwd[..., 0] = np.where(visible[:-1] == 1, step, 0)
    return Clip(np.zeros((T, H, W, 3), np.uint8), visible, amodal, fwd, flow,
                meta={"objects": [{"role": "target"}, {"role": "occluder"}]})


def test_union_baseline_completes_a_non_convex_object_that_the_hull_cannot():
    clip = _sliding_l_clip()
    assert "union" in BASELINES
    union, predicted = union_baseline(clip)
    assert predicted.tolist() == [True, False] and not union[:, 1].any()
    assert np.array_equal(union[:, 0], clip.amodal[:, 0])  # integer motion: exact, every frame
    hull, _ = convex_baseline(clip)
    occluded = {name: summarize(score_clip(clip, pred))["miou_occ"]
                for name, pred in (("union", union), ("convex", hull))}
    assert occluded["union"] == 1.0 > occluded["convex"] + 0.2


def test_soft_boundary_pixels_with_blended_flow_do_not_drag_the_fit():
    # as in a resampled crop: a ring of half-weight pixels around the square, whose flow is blended
    # with the still background's (half the object's motion)
    amodal, visible, flow_back = _square_sliding_behind_a_bar(T=6)
    soft = visible.clone()
    for t in range(6):
        ring = torch.zeros(H, W)
        ring[7:15, 1 + 2 * t : 9 + 2 * t] = 1.0
        ring = ring * (1.0 - (amodal[0, t, 0] > 0).float()) * (visible[0, t, 0].sum() > 0)
        ring[:, 10:14] = 0.0  # the bar covers it too
        soft[0, t, 0] += 0.5 * ring
        flow_back[0, t, 0] += -1.0 * ring * (t > 0)
    seen = carry(soft, flow_back)
    assert torch.equal(seen[0, 4, 0] >= 0.75, amodal[0, 4, 0] > 0)
