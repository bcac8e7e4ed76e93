import math

import pytest
import torch

from savos.models.savos import SaVosOutput
from savos.tracks import TrackBatch
from savos.training.losses import bce, savos_loss, soft_iou_loss, supervised_loss

P = 16
CLAMPED = -math.log(1e-6)  # BCE of a confident wrong pixel (probabilities are clamped to [1e-6, 1 - 1e-6])


def square(T: int, x0: int, vx: int, y0: int = 4, side: int = 5) -> torch.Tensor:
    """(T, 1, P, P) masks of a square moving vx pixels per frame to the right."""
    m = torch.zeros(T, 1, P, P)
    for t in range(T):
        m[t, 0, y0 : y0 + side, x0 + vx * t : x0 + vx * t + side] = 1.0
    return m


def make_batch(visible, others=None, valid=None, amodal=None) -> TrackBatch:
    B, T = visible.shape[:2]
    z2 = torch.zeros(B, T, 2, P, P)
    return TrackBatch(
        rgb=torch.zeros(B, T, 3, P, P),
        visible=visible,
        others=torch.zeros_like(visible) if others is None else others,
        flow_fwd=z2,
        flow_bwd=z2.clone(),
        valid=torch.ones(B, T, dtype=torch.bool) if valid is None else valid,
        amodal=visible.clone() if amodal is None else amodal,
    )


def make_out(masks_f, motion_f, motion_b, masks_b=None) -> SaVosOutput:
    """A hand-made output: both directions predict the given masks; α = 1/2 each."""
    masks_b = masks_f if masks_b is None else masks_b
    B, T = masks_f.shape[:2]
    alpha = torch.full((B, T, 2, P, P), 0.5)
    logit = lambda m: torch.logit(m.clamp(1e-6, 1 - 1e-6))  # noqa: E731
    return SaVosOutput(
        amodal=0.5 * (masks_f + masks_b),
        amodal_fwd=masks_f,
        amodal_bwd=masks_b,
        logits_fwd=logit(masks_f),
        logits_bwd=logit(masks_b),
        alpha=alpha,
        motion_fwd=motion_f,
        motion_bwd=motion_b,
        mean_flow_fwd=torch.zeros(B, T, 2),
        mean_flow_bwd=torch.zeros(B, T, 2),
    )


def const_flow(B, T, dx, dy=0.0) -> torch.Tensor:
    return torch.tensor([float(dx), float(dy)]).view(1, 1, 2, 1, 1).expand(B, T, 2, P, P).clone()


def test_bce_and_soft_iou_values():
    assert bce(torch.tensor(0.5), torch.tensor(1.0)).item() == pytest.approx(math.log(2))
    a = torch.zeros(1, P, P)
    b = torch.zeros(1, P, P)
    a[0, 0, :8] = 1
    b[0, 0, 4:12] = 1  # |a ∩ b| = 4, |a ∪ b| = 12
    assert soft_iou_loss(a, b).item() == pytest.approx(2 / 3)
    assert soft_iou_loss(a, a).item() == pytest.approx(0.0, abs=1e-7)
    assert soft_iou_loss(torch.zeros(1, P, P), torch.zeros(1, P, P)).item() == pytest.approx(0.0)


def test_perfect_prediction_and_motion_give_zero_loss():
    V = square(4, x0=1, vx=2)[None]  # (1, 4, 1, P, P)
    out = make_out(V.clone(), const_flow(1, 4, 2), const_flow(1, 4, -2))
    loss = savos_loss(out, make_batch(V), lambda1=1.0, lambda2=1.0)
    assert set(loss) == {"total", "motion", "consistency"}
    assert loss["motion"].item() < 1e-5
    assert loss["consistency"].item() == pytest.approx(0.0, abs=1e-6)
    # the wrong motion is penalised by both terms
    bad = savos_loss(make_out(V.clone(), const_flow(1, 4, 0), const_flow(1, 4, 0)), make_batch(V), 1.0, 1.0)
    assert bad["motion"].item() > 0.1 and bad["consistency"].item() > 0.1


def test_weight_masks_the_region_occluded_at_t_plus_1():
    amodal = square(2, x0=1, vx=2)[None]  # the true full masks; the prediction is perfect
    others = torch.zeros_like(amodal)
    others[0, 1, 0, 4:9, 3:6] = 1.0  # an occluder over 3 columns x 5 rows of the square at t = 1
    hidden = int((amodal[0, 1, 0] * others[0, 1, 0]).sum())  # 15 pixels
    V = amodal * (1 - others)
    out = make_out(amodal.clone(), const_flow(1, 2, 2), const_flow(1, 2, -2))
    loss = savos_loss(out, make_batch(V, others=others, amodal=amodal), 1.0, 0.0)
    assert loss["motion"].item() < 1e-5  # W = 1 - others removes the occluded pixels
    # without the weight, the forward chains (merged and own: half of the four) see `hidden` wrong pixels
    unweighted = savos_loss(out, make_batch(V, amodal=amodal), 1.0, 0.0)
    assert unweighted["motion"].item() == pytest.approx(hidden * CLAMPED / P**2 / 2, rel=1e-3)


def test_consistency_value_and_lambdas():
    A = torch.zeros(1, 2, 1, P, P)
    A[0, 0, 0, 0, :8] = 1.0
    A[0, 1, 0, 0, 4:12] = 1.0  # warped A_0 (zero motion) vs A_1: IoU 4/12, both directions
    out = make_out(A, const_flow(1, 2, 0), const_flow(1, 2, 0))
    loss = savos_loss(out, make_batch(A), lambda1=0.3, lambda2=2.0)
    assert loss["consistency"].item() == pytest.approx(2 / 3, rel=1e-5)
    assert loss["total"].item() == pytest.approx(0.3 * loss["motion"].item() + 2.0 * 2 / 3, rel=1e-5)


def test_normalised_by_valid_pairs_and_invalid_frames_do_not_contribute():
    A = torch.zeros(1, 3, 1, P, P)
    A[0, :, 0, 2:6, 2:6] = 1.0
    pred = A.clone()
    pred[0, 1:, 0, 2:6, 4:8] = 0.7  # some error on every pair
    one = savos_loss(make_out(pred, const_flow(1, 3, 0), const_flow(1, 3, 0)), make_batch(A), 1.0, 1.0)
    # the same object twice: a mean, not a sum
    two = savos_loss(
        make_out(pred.repeat(2, 1, 1, 1, 1), const_flow(2, 3, 0), const_flow(2, 3, 0)),
        make_batch(A.repeat(2, 1, 1, 1, 1)),
        1.0,
        1.0,
    )
    for k in one:
        assert two[k].item() == pytest.approx(one[k].item(), rel=1e-6)
    # add an object whose frames 1, 2 are invalid and full of garbage: pairs (0,1), (1,2) are dropped
    g = torch.Generator().manual_seed(0)
    junk_pred = torch.cat([pred, torch.rand(1, 3, 1, P, P, generator=g)], 0).requires_grad_(True)
    junk_vis = torch.cat([A, torch.rand(1, 3, 1, P, P, generator=g)], 0)
    junk_motion = torch.cat([const_flow(1, 3, 0), 50 * torch.randn(1, 3, 2, P, P, generator=g)], 0)
    valid = torch.tensor([[True, True, True], [True, False, False]])
    out = make_out(junk_pred, junk_motion, junk_motion.clone())
    mixed = savos_loss(out, make_batch(junk_vis, valid=valid), 1.0, 1.0)
    for k in one:
        assert mixed[k].item() == pytest.approx(one[k].item(), rel=1e-6)
    mixed["total"].backward()
    assert junk_pred.grad[1].abs().max() == 0  # nothing flows into the invalid object's predictions
    assert junk_pred.grad[0].abs().max() > 0


def test_no_valid_pair_gives_zero_that_backpropagates():
    A = square(3, x0=1, vx=1)[None].requires_grad_(True)
    valid = torch.tensor([[True, False, True]])
    loss = savos_loss(
        make_out(A, const_flow(1, 3, 1), const_flow(1, 3, -1)), make_batch(A.detach(), valid=valid), 1, 1
    )
    assert loss["total"].item() == 0.0
    loss["total"].backward()


def test_motion_of_t_to_t_plus_1_is_used_not_the_one_after():
    V = square(3, x0=1, vx=2)[None]
    f, b = const_flow(1, 3, 2), const_flow(1, 3, -2)
    base = savos_loss(make_out(V.clone(), f, b), make_batch(V), 1.0, 1.0)
    f2, b2 = f.clone(), b.clone()
    f2[:, -1] = 7.0  # the forward motion of the last frame points past the clip: never used
    b2[:, 0] = 7.0  # likewise the backward motion of the first frame
    same = savos_loss(make_out(V.clone(), f2, b2), make_batch(V), 1.0, 1.0)
    assert same["total"].item() == pytest.approx(base["total"].item(), abs=1e-7)
    f3 = f.clone()
    f3[:, 0] = 0.0  # the motion of 0 -> 1 is used for M̂_1 (L_M and L_C)
    worse = savos_loss(make_out(V.clone(), f3, b), make_batch(V), 1.0, 1.0)
    assert worse["motion"].item() > base["motion"].item() + 0.01
    assert worse["consistency"].item() > base["consistency"].item() + 0.01


def test_ground_truth_never_enters_the_self_supervised_loss():
    V = square(3, x0=1, vx=2)[None]
    out = make_out(V.clone(), const_flow(1, 3, 2), const_flow(1, 3, -2))
    a = savos_loss(out, make_batch(V, amodal=torch.zeros_like(V)), 1.0, 1.0)
    b = savos_loss(out, make_batch(V, amodal=torch.ones_like(V)), 1.0, 1.0)
    assert a["total"].item() == b["total"].item()


def test_supervised_loss():
    amodal = square(3, x0=1, vx=2)[None]
    perfect = make_out(amodal.clone(), const_flow(1, 3, 0), const_flow(1, 3, 0))
    assert supervised_loss(perfect, make_batch(amodal))["total"].item() < 1e-4
    half = make_out(torch.full_like(amodal, 0.5), const_flow(1, 3, 0), const_flow(1, 3, 0))
    loss = supervised_loss(half, make_batch(amodal, valid=torch.tensor([[True, False, True]])))
    assert set(loss) == {"total", "supervised"}
    assert loss["total"].item() == pytest.approx(math.log(2), rel=1e-5)  # mean over the 2 valid frames


def test_horizon_sees_a_grown_mask_once_the_region_is_revealed():
    """A static square behind an occluder that covers its right neighbourhood at t = 0, 1 and leaves at
    t = 2. The prediction adds a spurious 5x3 block in the neighbourhood at every frame: at horizon 1 the
    pair (0, 1) cannot see it (covered at 1), the pair (1, 2) can; at horizon 2 the pair (0, 2) can too."""
    T = 3
    amodal = square(T, x0=2, vx=0)[None]  # (1, 3, 1, P, P), columns 2..6
    others = torch.zeros_like(amodal)
    others[0, :2, 0, :, 7:12] = 1.0  # the occluder, gone at t = 2
    grown = amodal.clone()
    grown[0, :, 0, 4:9, 7:10] = 1.0  # spurious: under the occluder at t = 0, 1; background at t = 2
    batch = make_batch(amodal * (1 - others), others=others, amodal=amodal)
    zero = const_flow(1, T, 0)
    h1 = savos_loss(make_out(grown, zero, zero), batch, 1.0, 0.0)["motion"].item()
    h2 = savos_loss(make_out(grown, zero, zero), batch, 1.0, 0.0, horizon=2)["motion"].item()
    truth_h2 = savos_loss(make_out(amodal.clone(), zero, zero), batch, 1.0, 0.0, horizon=2)["motion"].item()
    wrong = 15 * CLAMPED / P**2  # one pair's masked BCE when its 15 spurious pixels are in view
    # horizon 1, forward chains: pair (0, 1) sees nothing wrong, pair (1, 2) sees 15 pixels; backward chains
    # (2 -> 1, 1 -> 0) never see them (covered at the target frame). Mean over 2 pairs, 2 directions.
    assert h1 == pytest.approx(wrong / 2 / 2, rel=1e-3)
    # horizon 2 adds the forward pair (0, 2), which sees them; the backward (2, 0) does not. L_M is the mean
    # of the two horizons' means: (wrong / 4 + wrong / 2) / 2
    assert h2 == pytest.approx((wrong / 4 + wrong / 2) / 2, rel=1e-3)
    assert truth_h2 < 1e-5
    # an invalid middle frame removes the two-frame pair that crosses it
    mid = make_batch(amodal * (1 - others), others=others, amodal=amodal,
                     valid=torch.tensor([[True, False, True]]))
    assert savos_loss(make_out(grown, zero, zero), mid, 1.0, 0.0, horizon=2)["motion"].item() == 0.0


def test_lambda3_charges_the_mask_under_the_other_objects():
    T = 2
    amodal = square(T, x0=2, vx=0)[None]
    others = torch.zeros_like(amodal)
    others[0, :, 0, :, 7:11] = 1.0  # 16 rows x 4 columns = 64 px, right of the square
    grown = amodal.clone()
    grown[0, :, 0, 4:9, 7:10] = 1.0  # 15 px of it under the other object, at both frames
    batch = make_batch(amodal * (1 - others), others=others, amodal=amodal)
    zero = const_flow(1, T, 0)
    plain = savos_loss(make_out(grown, zero, zero), batch, 1.0, 1.0)
    charged = savos_loss(make_out(grown, zero, zero), batch, 1.0, 1.0, lambda3=2.0)
    assert "hidden" not in plain and charged["hidden"].item() == pytest.approx(15 / P**2, rel=1e-4)
    assert charged["total"].item() == pytest.approx(plain["total"].item() + 2.0 * 15 / P**2, rel=1e-4)
    truth = savos_loss(make_out(amodal.clone(), zero, zero), batch, 1.0, 1.0, lambda3=2.0)
    assert truth["hidden"].item() == 0.0  # nothing of the square lies under the other object


def test_lambda0_charges_the_mask_where_it_differs_from_the_visible_mask_outside_the_others():
    T = 3
    amodal = square(T, x0=2, vx=0)[None]  # 5 x 5 at rows 4..8, columns 2..6
    others = torch.zeros_like(amodal)
    others[0, :, 0, :, 5:9] = 1.0  # covers the square's right two columns and the two beyond it
    batch = make_batch(amodal * (1 - others), others=others, amodal=amodal,
                       valid=torch.tensor([[True, True, False]]))
    zero = const_flow(1, T, 0)
    truth = savos_loss(make_out(amodal.clone(), zero, zero), batch, 1.0, 1.0, lambda0=3.0)
    assert "visible" not in savos_loss(make_out(amodal.clone(), zero, zero), batch, 1.0, 1.0)
    assert truth["visible"].item() < 1e-5  # the hidden columns are under the others: not charged
    fat = amodal.clone()
    fat[0, :, 0, 3:10, 1] = 1.0  # a 7-px column on the background, left of the square
    fat[0, :, 0, 3:10, 7] = 1.0  # and 7 px under the other object, which cost nothing here
    charged = savos_loss(make_out(fat, zero, zero), batch, 1.0, 1.0, lambda0=3.0)
    # merged and both directions' own masks are the same: 7 wrong px in each of the 2 valid frames
    assert charged["visible"].item() == pytest.approx(7 * CLAMPED / P**2, rel=1e-3)
    plain = savos_loss(make_out(fat, zero, zero), batch, 1.0, 1.0)
    assert charged["total"].item() == pytest.approx(plain["total"].item() + 3.0 * 7 * CLAMPED / P**2,
                                                    rel=1e-3)
