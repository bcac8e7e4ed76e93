"""``crop_track`` reads only the part of each frame its patch covers; it must give, bit for bit, what
sampling the whole frames gives (the straightforward implementation below)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from savos.data.clip import Clip
from savos.tracks import _CHANNELS, crop_track, make_tracks
from savos.warp import exact_size, sample


def reference_crop(clip: Clip, track, t0: int, L: int) -> np.ndarray:
    """(L, 10, Ph, Pw) before the flow's change of units: every channel of the whole frames sampled."""
    T, H, W = clip.visible.shape
    k = track.object_id
    ts = np.arange(t0, t0 + L)
    lab = clip.visible[t0:t0 + L]
    x = np.zeros((L, _CHANNELS, exact_size(H), exact_size(W)), np.float32)
    x[:, 0:3, :H, :W] = clip.rgb[t0:t0 + L].transpose(0, 3, 1, 2)
    x[:, 0:3, :H, :W] *= 1.0 / 255.0
    x[:, 3, :H, :W] = lab == k + 1
    x[:, 4, :H, :W] = (lab > 0) & (lab != k + 1)
    x[:, 5, :H, :W] = clip.amodal[t0:t0 + L, k]
    x[:L - 1, 6:8, :H, :W] = clip.flow_fwd[t0:t0 + L - 1].transpose(0, 3, 1, 2)
    x[1:, 8:10, :H, :W] = clip.flow_bwd[t0:t0 + L - 1].transpose(0, 3, 1, 2)
    gx, gy = track.patch_to_frame(ts)
    coords = np.stack(np.broadcast_arrays(gx[:, None, :], gy[:, :, None]), axis=1)
    with torch.no_grad():
        return sample(torch.from_numpy(x), torch.from_numpy(coords.astype(np.float32))).numpy()


def random_clip(rng, T, K, H, W) -> Clip:
    amodal = np.zeros((T, K, H, W), bool)
    for k in range(K):
        h, w = rng.integers(2, H // 2 + 2), rng.integers(2, W // 2 + 2)
        r, c = rng.integers(-h // 2, H - h // 2), rng.integers(-w // 2, W - w // 2)
        vr, vc = rng.integers(-3, 4, 2)
        for t in range(T):
            rr, cc = r + vr * t, c + vc * t
            amodal[t, k, max(rr, 0):max(rr + h, 0), max(cc, 0):max(cc + w, 0)] = True
    visible = np.zeros((T, H, W), np.uint8)
    for k in range(K):
        visible[amodal[:, k]] = k + 1
    amodal |= (visible[:, None] == np.arange(1, K + 1)[None, :, None, None])
    flow = lambda: rng.normal(0, 2, (T - 1, H, W, 2)).astype(np.float32)  # noqa: E731
    return Clip(rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8), visible, amodal, flow(), flow())


@pytest.mark.parametrize("seed", range(6))
def test_crop_track_equals_sampling_whole_frames(seed):
    rng = np.random.default_rng(seed)
    T, H, W = int(rng.integers(2, 7)), int(rng.integers(9, 70)), int(rng.integers(9, 90))
    clip = random_clip(rng, T, 3, H, W)
    patch = [8, (8, 16), (16, 8), 5][seed % 4]
    for tr in make_tracks(clip, patch, float(rng.uniform(0.5, 2.5))):
        t0 = int(rng.integers(0, T - 1))
        L = int(rng.integers(1, T - t0 + 1))
        item = crop_track(clip, tr, t0, L)
        ref = reference_crop(clip, tr, t0, L)
        for name, ch in (("rgb", ref[:, 0:3]), ("visible", ref[:, 3:4]), ("others", ref[:, 4:5]),
                         ("amodal", ref[:, 5:6])):
            np.testing.assert_array_equal(getattr(item, name), ch, err_msg=name)
            assert np.array_equal(np.signbit(getattr(item, name)), np.signbit(ch)), name
        s, ts = tr.scale, np.arange(t0, t0 + L)
        shift = (s * np.diff(tr.centres[ts], axis=0)).astype(np.float32)[:, :, None, None]
        fwd, bwd = s * ref[:, 6:8], s * ref[:, 8:10]
        fwd[:L - 1] -= shift
        fwd[L - 1] = 0.0
        bwd[1:] += shift
        bwd[0] = 0.0
        np.testing.assert_array_equal(item.flow_fwd, fwd)
        np.testing.assert_array_equal(item.flow_bwd, bwd)
