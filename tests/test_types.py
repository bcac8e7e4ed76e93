"""Object types (generators/scenes/types.py): fish, cars and props are simple polygons of their size,
varied per instance; the type is in each object's meta; the fish tail beat is non-rigid motion whose
flow is exact (the warp written out here)."""

from __future__ import annotations

import numpy as np
import pytest

from generators.geometry import invert_affine, pixel_centres, rasterize
from generators.scenes.config import SceneConfig
from generators.scenes.engine import generate_clip
from generators.scenes.types import CAR_TYPES, FISH_TYPES, TYPE_NAMES, kind, make_type, tail_beat
from generators.scenes.verify_scene import check_clip
from savos.data.codec import decode_clip, encode_clip


def _crosses(a, b, c, d) -> bool:
    """Segments ab and cd properly intersect (touching ends of neighbours excluded by the caller)."""
    def side(p, q, r):
        return np.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))
    return side(a, b, c) * side(a, b, d) < 0 and side(c, d, a) * side(c, d, b) < 0


def is_simple(polygon: np.ndarray) -> bool:
    n = len(polygon)
    edges = [(polygon[i], polygon[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # neighbours through the closing edge
            if _crosses(*edges[i], *edges[j]):
                return False
    return True


def test_at_least_five_fish_and_some_cars():
    assert len(FISH_TYPES) >= 5 and len(CAR_TYPES) >= 1
    assert {kind(n) for n in TYPE_NAMES} == {"fish", "car", "rock", "plant", "kerb"}


@pytest.mark.parametrize("name", TYPE_NAMES)
def test_types_are_simple_polygons_of_their_size_and_vary(name):
    rng = np.random.default_rng(0)
    shapes = [make_type(rng, name, 10.0, 0.3) for _ in range(4)]
    for p in shapes:
        assert is_simple(p), name
        assert abs(np.hypot(p[:, 0], p[:, 1]).max() - 10.0) < 1e-9
        assert rasterize(p[None] + 20.0, 40, 40)[0].sum() > 20
    assert len({np.round(p, 6).tobytes() for p in shapes}) > 1  # per-instance variation
    if name in FISH_TYPES:
        canonical, warps = tail_beat(rng, shapes[0], 8, 1.5, (6.0, 8.0))
        assert warps.shape == (7, 6) and not warps[:, 0].any() and np.abs(warps[:, 3]).max() > 0.1
        assert is_simple(canonical)


def _fish_scene(**occlusion) -> SceneConfig:
    fish = {"count": [1, 2], "families": list(FISH_TYPES), "size": [8.0, 10.0], "upright": True,
            "motion": {"tail": [0.1, 0.15], "tail_period": [5.0, 7.0], "rotation": [0.0, 0.5]}}
    return SceneConfig.from_dict({"frame": {"height": 40, "width": 48, "frames": 8}, "targets": fish,
                                  "occluders": {**fish, "count": [1, 1]},
                                  "occlusion": {"rate": [0.0, 0.95], **occlusion}, "max_attempts": 2000})


def test_types_are_recorded_in_meta():
    clip = generate_clip(_fish_scene(unseen=1.0), 0, 0, "train")
    for o in clip.meta["objects"]:
        assert o["type"] in FISH_TYPES and o["shape"] == "fish"
    plain = generate_clip(SceneConfig.from_dict({"frame": {"height": 32, "width": 32, "frames": 4}}), 0, 0,
                          "train")
    assert all("type" not in o for o in plain.meta["objects"])  # families have none


def test_tail_beat_flow_is_exact():
    """The tail beat's warp written out here (y += ay sin(ky x + py) in own coordinates, x unchanged)
    moves each frame's vertices onto the next frame's and gives the stored amodal flow."""
    clip = decode_clip(dict(encode_clip(generate_clip(_fish_scene(unseen=1.0), 0, 1, "train"))))
    assert check_clip(clip) == []
    H, W = clip.size
    xs, ys = pixel_centres(H, W)
    for k, obj in enumerate(clip.meta["objects"]):
        maps, warps = np.asarray(obj["maps"]), np.asarray(obj["warps"])
        v = np.asarray(obj["vertices"])
        assert not warps[:, 0].any() and np.abs(warps[:, 3]).max() > 0.05
        for t in range(clip.num_frames - 1):
            _, _, _, ay, ky, py = warps[t]
            for x, y, want in ((v[t, :, 0], v[t, :, 1], v[t + 1]),
                               (xs[np.flatnonzero(clip.amodal[t, k])], ys[np.flatnonzero(clip.amodal[t, k])],
                                None)):
                inv = invert_affine(maps[t])
                u = inv[0, 0] * x + inv[0, 1] * y + inv[0, 2]
                w = inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]
                w = w + ay * np.sin(ky * u + py)
                a = maps[t + 1]
                moved = np.stack([a[0, 0] * u + a[0, 1] * w + a[0, 2],
                                  a[1, 0] * u + a[1, 1] * w + a[1, 2]], -1)
                if want is not None:  # the vector shape: a finite step of the recorded vertices
                    assert np.abs(moved - want).max() < 1e-6
                else:
                    flat = np.flatnonzero(clip.amodal[t, k])
                    got = clip.amodal_flow_fwd[t, k].reshape(-1, 2)[flat]
                    assert np.abs(got - (moved - np.stack([x, y], -1))).max() < 0.01
        # the tail really beats: the shape in its own coordinates changes from frame to frame
        own = np.einsum("tij,tnj->tni", invert_affine(maps)[:, :, :2], v) + invert_affine(maps)[:, None, :, 2]
        assert np.abs(own[1:] - own[:-1]).max() > 0.1
