import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from savos.data.clip import Clip
from savos.errors import SavosError
from savos.tracks import Track, TrackBatch, collate, crop_track, make_tracks, paste_back
from savos.warp import sample, warp, warp_forward


def square_clip(
    T=6, H=40, W=48, side=10.0, origin=(6.0, 8.0), velocity=(2.0, 1.0), bar_rows=(18, 21), hide=(), index=3
) -> Clip:
    """Object 1 (target): the square [ox, ox + side) x [oy, oy + side), moving by `velocity` per frame,
    coloured by a linear ramp in object coordinates. Object 2 (occluder, in front): a static bar over
    rows bar_rows (inclusive), or the whole frame at the frames in `hide`. Exact flow."""
    vx, vy = velocity
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    amodal = np.zeros((T, 2, H, W), bool)
    rgb = np.full((T, H, W, 3), 20, np.uint8)
    for t in range(T):
        ox, oy = origin[0] + vx * t, origin[1] + vy * t
        amodal[t, 0] = (x >= ox) & (x < ox + side) & (y >= oy) & (y < oy + side)
        amodal[t, 1] = True if t in hide else (y >= bar_rows[0]) & (y <= bar_rows[1])
        ramp = np.stack([40 + 10 * (x - ox), 40 + 10 * (y - oy), np.full_like(x, 200)], axis=-1)
        rgb[t][amodal[t, 0]] = np.round(ramp[amodal[t, 0]]).astype(np.uint8)
        rgb[t][amodal[t, 1]] = (0, 0, 250)
    visible = np.where(amodal[:, 1], 2, np.where(amodal[:, 0], 1, 0)).astype(np.uint8)
    v = np.array([vx, vy], np.float32)
    flow_fwd = np.where((visible[:-1] == 1)[..., None], v, 0).astype(np.float32)
    flow_bwd = np.where((visible[1:] == 1)[..., None], -v, 0).astype(np.float32)
    amodal_flow = np.zeros((T - 1, 2, H, W, 2), np.float32)
    amodal_flow[:, 0][amodal[:-1, 0]] = v
    meta = {"index": index, "objects": [{"role": "target"}, {"role": "occluder"}]}
    clip = Clip(rgb, visible, amodal, flow_fwd, flow_bwd, amodal_flow, meta)
    clip.validate()
    return clip


def boundary_band(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within `width` (Chebyshev) of a change of the boolean mask (H, W)."""
    p = np.pad(mask, width, mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(p, (2 * width + 1, 2 * width + 1))
    return win.max(axis=(-2, -1)) != win.min(axis=(-2, -1))


def crop_indicator(ind: np.ndarray, track: Track, t: int) -> torch.Tensor:
    """Bilinear crop of a frame-sized float image (H, W) at frame t of a track -> (1, 1, Ph, Pw)."""
    gx, gy = track.patch_to_frame(np.array([t]))
    coords = np.stack(np.broadcast_arrays(gx[:, None, :], gy[:, :, None]), axis=1).astype(np.float32)
    return sample(torch.from_numpy(ind.astype(np.float32))[None, None], torch.from_numpy(coords))


def test_make_tracks_one_scale_centres_follow_visible_box():
    clip = square_clip()
    tracks = make_tracks(clip, patch=32, enlarge=1.5)
    assert [t.object_id for t in tracks] == [0]  # the occluder is not a target
    tr = tracks[0]
    assert tr.boxes.shape == (6, 4) and tr.valid.all()
    assert tr.scale == pytest.approx(32 / 15.0)  # 1.5 x 10-pixel extent
    np.testing.assert_allclose(tr.boxes[:, 2] - tr.boxes[:, 0], 15.0)
    np.testing.assert_allclose(tr.boxes[:, 3] - tr.boxes[:, 1], 15.0)
    for t in range(6):
        rr, cc = np.nonzero(clip.visible[t] == 1)
        np.testing.assert_allclose(tr.centres[t], [(cc.min() + cc.max()) / 2, (rr.min() + rr.max()) / 2])


def test_invisible_frames_are_invalid_interpolated_and_do_not_crash():
    clip = square_clip(bar_rows=(38, 39), hide=(2, 3))
    (tr,) = make_tracks(clip, patch=16, enlarge=2.0)
    assert tr.valid.tolist() == [True, True, False, False, True, True]
    # linear motion: the interpolated centre is the true one
    np.testing.assert_allclose(tr.centres[:, 0], 6.0 + 4.5 + 2.0 * np.arange(6))
    np.testing.assert_allclose(tr.centres[:, 1], 8.0 + 4.5 + 1.0 * np.arange(6))
    item = crop_track(clip, tr)
    assert item.valid.tolist() == tr.valid.tolist()
    assert item.visible[2:4].max() == 0.0 and item.amodal[2:4].max() > 0.5
    for name in ("rgb", "visible", "others", "flow_fwd", "flow_bwd", "amodal"):
        assert np.isfinite(getattr(item, name)).all()


def test_object_never_visible_gives_an_all_invalid_track():
    clip = square_clip(T=3, hide=(0, 1, 2))
    (tr,) = make_tracks(clip, patch=8, enlarge=1.5)
    assert not tr.valid.any()
    item = crop_track(clip, tr)
    assert not item.valid.any() and np.isfinite(item.rgb).all()


def _unit_track(clip: Clip, P, x0: np.ndarray, y0: np.ndarray) -> Track:
    """Scale 1, boxes starting at pixel edges (integer - 0.5): crops are exact sub-windows. P: int or
    (Ph, Pw)."""
    T = clip.num_frames
    ph, pw = (P, P) if isinstance(P, int) else P
    boxes = np.stack([x0 - 0.5, y0 - 0.5, x0 - 0.5 + pw, y0 - 0.5 + ph], axis=1).astype(np.float64)
    return Track(0, boxes, np.ones(T, bool), 1.0, P, clip.size)


@pytest.mark.parametrize("P", [24, (24, 32), (30, 26)])  # each window holds the whole square
def test_crop_is_exact_subwindow_and_paste_back_exact_inverse_at_scale_one(P):
    clip = square_clip()
    ph, pw = (P, P) if isinstance(P, int) else P
    x0 = 6 + 2 * np.arange(6) - 7  # left column of each window (integers; partly outside the frame)
    y0 = 8 + np.arange(6) - 7
    tr = _unit_track(clip, P, x0, y0)
    item = crop_track(clip, tr)
    assert item.rgb.shape == (6, 3, ph, pw) and item.flow_fwd.shape == (6, 2, ph, pw)
    for t in range(6):
        win = np.zeros((ph, pw), np.float32)
        r0, c0 = y0[t], x0[t]
        rs, cs = slice(max(r0, 0), r0 + ph), slice(max(c0, 0), c0 + pw)
        sub = (clip.visible[t] == 1)[rs, cs]
        win[max(-r0, 0) : max(-r0, 0) + sub.shape[0], max(-c0, 0) : max(-c0, 0) + sub.shape[1]] = sub
        np.testing.assert_array_equal(item.visible[t, 0], win)
    pasted = paste_back(item.amodal[:, 0], tr)
    assert pasted.dtype == np.float32 and pasted.shape == (6, 40, 48)
    np.testing.assert_array_equal(pasted, clip.amodal[:, 0].astype(np.float32))  # bit for bit
    wrong = item.amodal[:, 0].transpose(0, 2, 1) if ph != pw else item.amodal[:, 0, 1:]  # (L, Pw, Ph)
    with pytest.raises(SavosError, match="paste_back expects"):  # a transposed patch is refused
        paste_back(wrong, tr)


@settings(max_examples=25, deadline=None)
@given(dx=st.integers(-12, 40), dy=st.integers(-12, 30), ph=st.integers(4, 20), pw=st.integers(4, 20))
def test_crop_paste_integer_offsets_property(dx, dy, ph, pw):
    clip = square_clip(T=2)
    tr = _unit_track(clip, (ph, pw), np.array([dx, dx]), np.array([dy, dy]))
    pasted = paste_back(crop_track(clip, tr).amodal[:, 0], tr)
    inside = np.zeros((40, 48), bool)
    inside[max(dy, 0) : max(dy + ph, 0), max(dx, 0) : max(dx + pw, 0)] = True
    np.testing.assert_array_equal(pasted, (clip.amodal[:, 0] & inside).astype(np.float32))


@settings(max_examples=25, deadline=None)
@given(ph=st.integers(8, 40), pw=st.integers(8, 40), enlarge=st.floats(1.0, 2.5), side=st.floats(4.0, 14.0),
       vx=st.floats(-2.0, 2.0), vy=st.floats(-2.0, 2.0))
def test_non_square_box_has_the_patch_aspect_one_scale_and_holds_the_enlarged_visible_box(
        ph, pw, enlarge, side, vx, vy):
    clip = square_clip(T=4, side=side, origin=(14.0, 12.0), velocity=(vx, vy), bar_rows=(38, 39))
    (tr,) = make_tracks(clip, (ph, pw), enlarge)
    w, h = tr.boxes[:, 2] - tr.boxes[:, 0], tr.boxes[:, 3] - tr.boxes[:, 1]
    np.testing.assert_allclose(w * tr.scale, pw, rtol=1e-12)  # one scale along x and y
    np.testing.assert_allclose(h * tr.scale, ph, rtol=1e-12)
    own = clip.visible == 1
    ext_h = max(np.ptp(np.nonzero(own[t].any(1))[0]) + 1 for t in range(4))
    ext_w = max(np.ptp(np.nonzero(own[t].any(0))[0]) + 1 for t in range(4))
    assert (h >= enlarge * ext_h - 1e-9).all() and (w >= enlarge * ext_w - 1e-9).all()
    # the smallest such box: one side is exactly the enlarged extent
    assert np.isclose(h, enlarge * ext_h).all() or np.isclose(w, enlarge * ext_w).all()


def test_square_pair_is_the_int_patch():
    clip = square_clip(origin=(6.3, 8.6), velocity=(2.4, 1.3))
    (a,), (b,) = make_tracks(clip, 24, 1.5), make_tracks(clip, (24, 24), 1.5)
    assert a.patch == b.patch == (24, 24) and a.scale == b.scale
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(crop_track(clip, a).flow_fwd, crop_track(clip, b).flow_fwd)


@pytest.mark.parametrize("patch,enlarge", [(32, 2.0), (16, 2.0), (24, 1.3), ((16, 32), 2.0), ((40, 24), 1.3)])
def test_crop_paste_roundtrip_within_interpolation_error(patch, enlarge):
    clip = square_clip(origin=(6.3, 8.6), velocity=(2.4, 1.3))
    (tr,) = make_tracks(clip, patch=patch, enlarge=enlarge)
    pasted = paste_back(crop_track(clip, tr).amodal[:, 0], tr)
    band = int(np.ceil(1.0 / min(tr.scale, 1.0))) + 1
    for t in range(6):
        truth = clip.amodal[t, 0]
        wrong = (pasted[t] > 0.5) != truth
        assert not (wrong & ~boundary_band(truth, band)).any()
    # a torch tensor in gives a torch tensor out
    assert isinstance(paste_back(torch.zeros(6, *tr.patch), tr), torch.Tensor)


@pytest.mark.parametrize("patch", [32, (24, 40), (40, 24)])
def test_patch_flow_is_exact_under_crop_change(patch):
    # non-integer motion, scale != 1, moving crop, occluder bar crossing the object
    clip = square_clip(
        T=5, H=48, W=56, side=14.0, origin=(10.3, 20.6), velocity=(1.5, -2.75), bar_rows=(18, 20)
    )
    (tr,) = make_tracks(clip, patch=patch, enlarge=1.7)
    item = crop_track(clip, tr)
    s, c = tr.scale, tr.centres
    assert not np.allclose(c[1:] - c[:-1], 0)  # the crop moves
    v = np.array([1.5, -2.75])
    checked = 0
    for t in range(4):
        own_t = crop_indicator(clip.visible[t] == 1, tr, t)  # 1 where the sample only sees object pixels
        own_n = crop_indicator(clip.visible[t + 1] == 1, tr, t + 1)
        fwd = torch.from_numpy(item.flow_fwd[t : t + 1])  # (1, 2, P, P)
        expect = s * v - s * (c[t + 1] - c[t])
        inside = own_t[0, 0] > 1 - 1e-5
        np.testing.assert_allclose(
            fwd[0, :, inside].T.numpy(), np.broadcast_to(expect, (int(inside.sum()), 2)), atol=1e-4
        )
        # I_{t+1}[u + f(u)] = I_t[u] wherever both samples see only object pixels (a linear ramp)
        ok = inside & (warp(own_n, fwd)[0, 0] > 1 - 1e-5)
        checked += int(ok.sum())
        moved = warp(torch.from_numpy(item.rgb[t + 1 : t + 2]), fwd)[0]
        assert (moved - torch.from_numpy(item.rgb[t]))[:, ok].abs().max() < 2.5 / 255
        assert (warp(torch.from_numpy(item.visible[t + 1 : t + 2]), fwd)[0, 0][ok] > 1 - 1e-4).all()
        # and backwards: I_t[u + b(u)] = I_{t+1}[u] on frame t+1
        bwd = torch.from_numpy(item.flow_bwd[t + 1 : t + 2])
        ok_b = (own_n[0, 0] > 1 - 1e-5) & (warp(own_t, bwd)[0, 0] > 1 - 1e-5)
        back = warp(torch.from_numpy(item.rgb[t : t + 1]), bwd)[0]
        assert (back - torch.from_numpy(item.rgb[t + 1]))[:, ok_b].abs().max() < 2.5 / 255
        # the amodal crop moved by the true (constant) amodal patch flow is the next amodal crop
        delta = torch.from_numpy(expect.astype(np.float32)).view(1, 2, 1, 1).expand(1, 2, *tr.patch)
        warped = warp_forward(torch.from_numpy(item.amodal[t : t + 1]), delta)[0, 0].numpy()
        nxt = item.amodal[t + 1, 0]
        assert ((warped > 0.5) == (nxt > 0.5))[~boundary_band(nxt > 0.5, 2)].all()
    assert checked > 200
    assert np.all(item.flow_fwd[-1] == 0) and np.all(item.flow_bwd[0] == 0)


def test_window_crop_matches_whole_clip_crop_inside():
    clip = square_clip()
    (tr,) = make_tracks(clip, patch=16, enlarge=1.5)
    whole, win = crop_track(clip, tr), crop_track(clip, tr, t0=2, length=3)
    assert win.rgb.shape == (3, 3, 16, 16) and win.t0 == 2 and win.key == "clip_000003"
    np.testing.assert_allclose(win.rgb, whole.rgb[2:5], atol=1e-6)
    np.testing.assert_allclose(win.flow_fwd[:2], whole.flow_fwd[2:4], atol=1e-5)
    np.testing.assert_allclose(win.flow_bwd[1:], whole.flow_bwd[3:5], atol=1e-5)
    assert np.all(win.flow_fwd[2] == 0) and np.all(win.flow_bwd[0] == 0)  # window boundaries
    with pytest.raises(SavosError):
        crop_track(clip, tr, t0=4, length=3)


def test_collate_pads_with_invalid_frames_and_to_device():
    clip = square_clip()
    (tr,) = make_tracks(clip, patch=16, enlarge=1.5)
    batch = collate([crop_track(clip, tr), crop_track(clip, tr, 1, 3)])
    assert isinstance(batch, TrackBatch)
    assert batch.rgb.shape == (2, 6, 3, 16, 16) and batch.flow_fwd.shape == (2, 6, 2, 16, 16)
    assert batch.visible.shape == batch.others.shape == batch.amodal.shape == (2, 6, 1, 16, 16)
    assert batch.rgb.dtype == torch.float32 and batch.valid.dtype == torch.bool
    assert batch.valid[1].tolist() == [True] * 3 + [False] * 3
    assert (
        batch.length.tolist() == [6, 3] and batch.t0.tolist() == [0, 1] and batch.keys == ["clip_000003"] * 2
    )
    assert batch.others.max() == 1.0  # the bar
    moved = batch.to("cpu")
    assert isinstance(moved, TrackBatch) and torch.equal(moved.rgb, batch.rgb) and moved.keys == batch.keys
    (wide,) = make_tracks(clip, patch=(16, 24), enlarge=1.5)
    with pytest.raises(SavosError, match="different sizes"):
        collate([crop_track(clip, tr), crop_track(clip, wide)])
    assert collate([crop_track(clip, wide)]).rgb.shape == (1, 6, 3, 16, 24)


def test_known_follows_amodal_known_and_padding_is_unknown():
    clip = square_clip()
    (tr,) = make_tracks(clip, patch=16, enlarge=1.5)
    clip.amodal_known[[1, 4], 0] = False  # no truth for the target at frames 1 and 4
    clip.amodal_known[:, 1] = False  # nor for the occluder (not a track: must not matter)
    items = [crop_track(clip, tr), crop_track(clip, tr, 3, 2)]
    assert items[0].known.tolist() == [True, False, True, True, False, True]
    assert items[1].known.tolist() == [True, False]
    batch = collate(items)
    assert batch.known.dtype == torch.bool
    assert batch.known.tolist() == [[True, False, True, True, False, True], [True, False] + [False] * 4]
    assert torch.equal(batch.to("cpu").known, batch.known) and torch.equal(batch.known_pairs(), batch.known)

