"""The Chewing-Gum generator: config, determinism, exact ground truth, the coverage guarantee (checked
independently with shapely), and check_clip catching tampered clips."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generators.chewing_gum import ClipMaker, generate_clip, generate_clips
from generators.config import ChewingGumConfig
from generators.coverage import occlusion_problems, shape_coverage, shape_coverages
from generators.geometry import rigid_maps
from generators.render import (
    amodal_flow,
    compose_visible,
    flow_at_labels,
    motion_maps,
    paint,
    rigid_motions,
    visible_flows,
)
from generators.verify_gum import check_clip, coverage_stats
from savos import __version__
from savos.data.codec import encode_clip
from savos.data.writer import write_dataset
from savos.errors import SavosError

DEFAULT = ChewingGumConfig()
SMALL = ChewingGumConfig(height=32, width=40, frames=6, radius=(5.0, 7.0))


@pytest.fixture(scope="module")
def clips():
    return [generate_clip(DEFAULT, 7, i, "train") for i in range(12)]


# --- config -----------------------------------------------------------------------------------------

def test_config_round_trips_through_dict_and_json():
    cfg = ChewingGumConfig.from_dict({"height": 48, "radius": [5, 8], "amodal_flow": True})
    assert cfg.radius == (5.0, 8.0) and isinstance(cfg.radius[0], float)
    again = ChewingGumConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.to_dict() == cfg.to_dict()
    assert ChewingGumConfig.from_dict({}) == DEFAULT


@pytest.mark.parametrize("key, value, words", [
    ("wobble", 3, ["wobble", "unknown"]),
    ("height", "64", ["height", "integer"]),
    ("height", 64.0, ["height", "integer"]),
    ("height", True, ["height"]),
    ("height", 4, ["height", "[8, 2048]"]),
    ("frames", 1, ["frames", "[2, 1000]"]),
    ("num_occluders", 0, ["num_occluders"]),
    ("vertices", [12, 7], ["vertices", "min <= max"]),
    ("vertices", [7], ["vertices", "pair"]),
    ("vertices", [7.0, 9], ["vertices", "integer"]),
    ("radius", [3, float("nan")], ["radius"]),
    ("radius_jitter", 0.95, ["radius_jitter", "[0.0, 0.8]"]),
    ("amodal_flow", "yes", ["amodal_flow", "true or false"]),
    ("max_occlusion", 0.01, ["max_occlusion"]),
    ("min_occlusion", 0.9, ["max_occlusion", "greater"]),
])
def test_bad_config_names_the_key(key, value, words):
    with pytest.raises(SavosError) as err:
        ChewingGumConfig.from_dict({key: value})
    assert all(w in str(err.value) for w in words), str(err.value)


def test_from_dict_rejects_a_non_mapping():
    with pytest.raises(SavosError, match="mapping"):
        ChewingGumConfig.from_dict([("height", 64)])


# --- determinism and meta --------------------------------------------------------------------------

def _arrays(c):
    return [c.rgb, c.visible, c.amodal, c.flow_fwd, c.flow_bwd]


def test_same_inputs_same_bytes_and_meta(clips):
    np.random.seed(123)  # the global rng must not matter
    again = generate_clip(DEFAULT, 7, 3, "train")
    assert all(a.tobytes() == b.tobytes() for a, b in zip(_arrays(again), _arrays(clips[3]), strict=True))
    assert json.dumps(again.meta) == json.dumps(clips[3].meta)


def test_index_and_seed_change_the_clip_and_seed_zero_works():
    a, b, c = (generate_clip(SMALL, s, i, "val") for s, i in ((0, 0), (0, 1), (1, 0)))
    assert a.meta["seed"] == 0 and a.meta["index"] == 0 and a.meta["split"] == "val"
    assert not np.array_equal(a.rgb, b.rgb) and not np.array_equal(a.rgb, c.rgb)
    assert check_clip(a) == []


@pytest.mark.parametrize("seed, index", [(-1, 0), (0, -3), (True, 0), (1.5, 0)])
def test_bad_seed_or_index(seed, index):
    with pytest.raises(SavosError):
        generate_clip(SMALL, seed, index, "train")


def test_meta_is_json_exact_and_complete(clips):
    c = clips[0]
    meta = c.meta
    assert json.loads(json.dumps(meta)) == meta  # floats survive JSON exactly
    assert meta["generator"] == "chewing-gum" and meta["version"] == __version__
    assert meta["config"] == DEFAULT.to_dict() and meta["seed"] == 7 and meta["index"] == 0
    roles = [o["role"] for o in meta["objects"]]
    assert roles == ["target"] * DEFAULT.num_targets + ["occluder"] * DEFAULT.num_occluders
    colors = [tuple(o["color"]) for o in meta["objects"]] + [tuple(meta["background"])]
    assert len(set(colors)) == len(colors)
    for k, o in enumerate(meta["objects"]):
        assert o["shape"] == "polygon" and o["depth"] == k
        v = np.array(o["vertices"])
        assert v.shape[0] == DEFAULT.frames and 7 <= v.shape[1] <= 12
        assert all(isinstance(x, float) for x in v.ravel().tolist())
        assert np.allclose(o["occlusion_rate"], c.occlusion_rate()[:, k])
    assert c.visible.dtype == np.uint8 and c.amodal_flow_fwd is not None  # stored by default


def test_no_torch_in_generators():
    code = ("import sys, generators.chewing_gum, generators.verify_gum, generators.scenes.engine; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- exact ground truth ----------------------------------------------------------------------------

def test_masks_and_labels_match_shapely(clips):
    c = clips[1]
    T, K, H, W = c.amodal.shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    for k, o in enumerate(c.meta["objects"]):
        for t in (0, T // 2, T - 1):
            ref = shapely.contains_xy(shapely.Polygon(o["vertices"][t]), xx, yy)
            assert np.array_equal(c.amodal[t, k], ref)
    # the front-most polygon wins; rgb is the flat colour of the label
    assert np.array_equal(c.visible > 0, c.amodal.any(axis=1))
    palette = np.array([c.meta["background"], *[o["color"] for o in c.meta["objects"]]], np.uint8)
    assert np.array_equal(c.rgb, palette[c.visible])


def _pose_map(o, t):
    cx, cy, a = o["pose"][t]
    return rigid_maps(np.array(cx), np.array(cy), np.array(a))


def test_flow_moves_pixel_centres_where_the_rigid_motion_does(clips):
    """Independent of the renderer: the pose in meta defines the motion of each visible surface point."""
    c = clips[2]
    T, K, H, W = c.amodal.shape
    for t in (0, T // 2, T - 2):
        for k, o in enumerate(c.meta["objects"]):
            a0, a1 = _pose_map(o, t), _pose_map(o, t + 1)
            for labels, flow, src, dst in ((c.visible[t], c.flow_fwd[t], a0, a1),
                                           (c.visible[t + 1], c.flow_bwd[t], a1, a0)):
                r, col = np.nonzero(labels == k + 1)
                p = np.stack([col, r], -1).astype(np.float64)
                own = np.linalg.solve(src[:, :2], (p - src[:, 2]).T).T  # into the object's coordinates
                target = own @ dst[:, :2].T + dst[:, 2]
                assert np.abs(p + flow[r, col] - target).max() < 1e-4
    assert not c.flow_fwd[c.visible[:-1] == 0].any() and not c.flow_bwd[c.visible[1:] == 0].any()


@settings(max_examples=25, deadline=None)
@given(st.integers(-5, 5), st.integers(-5, 5), st.floats(-0.2, 0.2), st.integers(-30, 30), st.floats(-30, 30))
def test_flow_of_a_rigid_motion_at_pixel_centres(dx, dy, turn, cx, cy):
    """Integer translations give integer flow exactly; any rigid motion moves each pixel centre to where
    the motion maps it (to float32 precision), and the backward flow undoes it."""
    pose = np.array([[[cx, 20.0, 0.3], [cy, 3.5, 1.0]],
                     [[cx + dx, 20.0 + dy, 0.3], [cy + 1.5, 3.5, 1.0 + turn]]])  # (T=2, K=2, 3)
    fwd, bwd = rigid_motions(pose)
    maps = rigid_maps(pose[..., 0], pose[..., 1], pose[..., 2])  # (T, K, 2, 3): own -> frame
    assert np.allclose(fwd, motion_maps(maps)[0], atol=1e-12) and np.allclose(bwd, motion_maps(maps)[1])
    labels = np.zeros((1, 6, 7), np.uint8)
    labels[0, :3], labels[0, 3:] = 1, 2
    flow, back = flow_at_labels(fwd, labels)[0], flow_at_labels(bwd, labels)[0]
    assert np.array_equal(flow[:3], np.broadcast_to(np.array([dx, dy], np.float32), (3, 7, 2)))
    yy, xx = np.mgrid[3:6, 0:7].astype(np.float64)
    p = np.stack([xx, yy], -1)
    own = (p - maps[0, 1, :, 2]) @ maps[0, 1, :, :2]  # into object 2's coordinates (rotation: R^-1 = R^T)
    there = own @ maps[1, 1, :, :2].T + maps[1, 1, :, 2]  # and out at the next frame
    assert np.abs(p + flow[3:] - there).max() < 1e-5
    assert np.abs(there @ bwd[0, 1, :, :2].T + bwd[0, 1, :, 2] - p).max() < 1e-9
    assert np.abs(back[3:] - (p @ bwd[0, 1, :, :2].T + bwd[0, 1, :, 2] - p)).max() < 1e-5


def test_amodal_flow_is_motion_inside_and_zero_outside():
    c = generate_clip(ChewingGumConfig(amodal_flow=True), 3, 1, "train")
    af = c.amodal_flow_fwd
    assert af.dtype == np.float32 and af.shape == (c.num_frames - 1, c.num_objects, *c.size, 2)
    assert not af[~c.amodal[:-1]].any()
    for k in range(c.num_objects):  # where object k is visible, its amodal flow is the visible flow
        seen = c.visible[:-1] == k + 1
        assert np.array_equal(af[:, k][seen], c.flow_fwd[seen])
    assert check_clip(c) == []


# --- the guarantee ---------------------------------------------------------------------------------

def _independent_coverage(c, k):
    """Shapely-only re-check of the guarantee for target k: the canonical grid (step 1) and every hidden
    pixel centre, mapped by the meta poses, must be in the frame and outside every front polygon at some
    frame."""
    T, K, H, W = c.amodal.shape
    objs = c.meta["objects"]
    canon = shapely.Polygon(objs[k]["canonical"])
    x0, y0, x1, y1 = canon.bounds
    gx, gy = np.meshgrid(np.arange(math.floor(x0), x1 + 1), np.arange(math.floor(y0), y1 + 1))
    inside = shapely.contains_xy(canon, gx, gy)
    own = [np.stack([gx[inside], gy[inside]], -1)]
    for s in range(T):
        r, col = np.nonzero(c.amodal[s, k] & (c.visible[s] != k + 1))
        m = _pose_map(objs[k], s)
        own.append(np.linalg.solve(m[:, :2], (np.stack([col, r], -1) - m[:, 2]).T).T)
    own = np.concatenate(own)
    seen = np.zeros(len(own), bool)
    for t in range(T):
        m = _pose_map(objs[k], t)
        p = own @ m[:, :2].T + m[:, 2]
        ok = (p[:, 0] >= -0.5) & (p[:, 0] < W - 0.5) & (p[:, 1] >= -0.5) & (p[:, 1] < H - 0.5)
        for j in range(k + 1, K):
            ok &= ~shapely.contains_xy(shapely.Polygon(objs[j]["vertices"][t]), p[:, 0], p[:, 1])
        seen |= ok
    return seen.mean()


def test_every_target_is_never_whole_and_fully_covered(clips):
    for c in clips:
        assert check_clip(c) == []
        stats = coverage_stats(c)["objects"]
        for k in c.target_ids():
            hidden = (c.amodal[:, k] & (c.visible != k + 1)).sum(axis=(1, 2))
            area = c.amodal[:, k].sum(axis=(1, 2))
            assert (hidden >= np.maximum(1, np.ceil(DEFAULT.min_occlusion * area))).all()
            assert (hidden <= DEFAULT.max_occlusion * area).all()
            assert stats[k]["coverage"] == 1.0 and c.meta["objects"][k]["coverage"] == 1.0
            assert _independent_coverage(c, k) == 1.0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), index=st.integers(0, 10**6), frames=st.integers(2, 20),
       targets=st.integers(1, 3), occluders=st.integers(1, 2), amodal_flow=st.booleans(),
       size=st.sampled_from([(32, 32, (4.5, 6.5)), (48, 72, (7.0, 10.0)), (64, 64, (9.0, 13.0))]))
def test_property_every_clip_validates_and_checks(seed, index, frames, targets, occluders, amodal_flow, size):
    H, W, radius = size
    cfg = ChewingGumConfig(height=H, width=W, radius=radius, frames=frames, num_targets=targets,
                           num_occluders=occluders, amodal_flow=amodal_flow, max_attempts=1000)
    c = generate_clip(cfg, seed, index, "test")
    c.validate()
    assert c.amodal.shape == (frames, targets + occluders, H, W)
    assert check_clip(c) == []
    assert all(c.meta["objects"][k]["coverage"] == 1.0 for k in c.target_ids())


def test_occlusion_rates_are_mostly_in_the_evaluated_band(clips):
    rates = np.concatenate([c.occlusion_rate()[:, c.target_ids()].ravel() for c in clips])
    assert 0.2 < rates.mean() < 0.6
    assert ((rates > 0.1) & (rates < 0.7)).mean() > 0.7


def test_impossible_config_gives_up_with_a_clear_error():
    cfg = ChewingGumConfig(min_occlusion=0.9, max_occlusion=0.95, max_attempts=3)
    with pytest.raises(SavosError, match="max_attempts=3"):
        generate_clip(cfg, 0, 0, "train")


def test_occlusion_problems_names_the_frame():
    area, hidden = np.array([100, 100, 0, 100]), np.array([5, 0, 0, 95])
    problems = occlusion_problems(area, hidden, 0.03, 0.9)
    assert [p.split(":")[0] for p in problems] == ["frame 1", "frame 2", "frame 3"]


# --- check_clip catches tampering -------------------------------------------------------------------

def _tampered(c, how):
    c = generate_clip(ChewingGumConfig(amodal_flow=True), 7, c.meta["index"], "train")
    k = 0
    if how == "amodal":  # an occluded pixel: visible stays consistent, so only the geometry check sees it
        t, r, col = np.argwhere(c.amodal[:, k] & (c.visible != k + 1))[0]
        c.amodal[t, k, r, col] = False
    elif how == "flow_fwd":
        t, r, col = np.argwhere(c.visible[:-1] == k + 1)[0]
        c.flow_fwd[t, r, col, 0] += 0.1
    elif how == "flow_bwd":
        t, r, col = np.argwhere(c.visible[1:] == k + 1)[0]
        c.flow_bwd[t, r, col, 1] -= 0.1
    elif how == "amodal_flow":
        c.amodal_flow_fwd[0, k, 0, 0, 0] = 0.25  # outside the mask
    elif how == "rgb":
        c.rgb[2, 5, 5] ^= 1
    elif how == "visible":
        t, r, col = np.argwhere(c.visible == 2)[0]
        c.visible[t, r, col] = 1 if c.amodal[t, 0, r, col] else 0
    elif how == "vertices":
        c.meta["objects"][1]["vertices"][4][0][0] += 0.5
    elif how == "coverage":
        c.meta["objects"][0]["coverage"] = 0.98
    elif how == "meta":
        del c.meta["objects"][0]["vertices"]
    return c


@pytest.mark.parametrize("how, words", [
    ("amodal", "object 1: amodal mask differs"), ("flow_fwd", "flow_fwd differs"),
    ("flow_bwd", "flow_bwd differs"), ("amodal_flow", "amodal_flow_fwd is not 0 outside"),
    ("rgb", "rgb differs"), ("visible", "visible"), ("vertices", "object 2"),
    ("coverage", "meta coverage"), ("meta", "meta: cannot read"),
])
def test_check_clip_reports_tampering(clips, how, words):
    problems = check_clip(_tampered(clips[4], how))
    assert problems and any(words in p for p in problems), problems


def test_check_clip_reports_a_broken_guarantee(clips):
    """Move the occluder away in meta and the arrays: the last target is then shown whole."""
    c = generate_clip(DEFAULT, 7, 5, "train")
    from generators.render import compose_visible, paint, render_amodal

    occ = c.meta["objects"][-1]
    occ["vertices"] = (np.array(occ["vertices"]) + [500.0, 0.0]).tolist()
    verts = [np.array(o["vertices"]) for o in c.meta["objects"]]
    c.amodal = render_amodal(verts, *c.size)
    c.visible = compose_visible(c.amodal, list(range(c.num_objects)))
    c.rgb = paint(c.visible, c.meta["background"], [o["color"] for o in c.meta["objects"]])
    problems = " ".join(check_clip(c))
    assert "object 2 (target): frame 0: only 0 of" in problems and "full shape" in problems


@pytest.mark.parametrize("with_amodal", [False, True])
def test_visible_flows_equal_flow_at_labels(with_amodal):
    """The generator's one-scan flows are the reference per-direction flows, bit for bit."""
    cfg = ChewingGumConfig(num_targets=3, num_occluders=2, height=48, width=40, frames=6, radius=(6.0, 9.0))
    c = generate_clip(cfg, 5, 2, "train")
    pose = np.array([o["pose"] for o in c.meta["objects"]]).transpose(1, 0, 2)
    fwd, bwd = rigid_motions(pose)
    aflow = amodal_flow(fwd, c.amodal[:-1]) if with_amodal else None
    got_f, got_b = visible_flows(fwd, bwd, c.visible, aflow)
    want_f, want_b = flow_at_labels(fwd, c.visible[:-1]), flow_at_labels(bwd, c.visible[1:])
    assert got_f.tobytes() == want_f.tobytes() and got_b.tobytes() == want_b.tobytes()
    assert np.count_nonzero(got_b) > 0 and np.count_nonzero(got_f) > 0


@pytest.mark.parametrize("cfg", [
    ChewingGumConfig(height=40, width=48, frames=6, radius=(5.5, 8.0)),
    # crowded: several scenes are rejected per clip, so batches hold clips at different attempts
    ChewingGumConfig(height=32, width=32, frames=5, num_targets=3, num_occluders=2, radius=(4.5, 6.5),
                     max_attempts=1000),
])
def test_clips_made_together_are_the_clips_made_alone(cfg):
    indices = [7, 0, 3, 12, 5]
    together = generate_clips(cfg, 11, indices, "val")
    alone = [generate_clip(cfg, 11, i, "val") for i in indices]
    assert [encode_clip(c) for c in together] == [encode_clip(c) for c in alone]
    assert [c.meta["index"] for c in together] == indices
    assert max(c.meta["attempts"] for c in alone) > 1 or cfg.num_occluders == 1
    made = ClipMaker(cfg, 11).many(indices, "val")
    assert [encode_clip(c) for c in made] == [encode_clip(c) for c in alone]


def test_writer_batches_give_the_bytes_of_single_clips(tmp_path):
    """write_dataset with a maker that has ``many`` (batches) writes the same files as without."""
    cfg = ChewingGumConfig(height=32, width=32, frames=4, radius=(4.5, 6.5))
    desc = {"generator": "chewing-gum", "version": __version__, "seed": 3, "config": cfg.to_dict(),
            "amodal_flow": True}
    splits = {"train": 30, "val": 4}
    write_dataset(tmp_path / "a", ClipMaker(cfg, 3), splits, desc, shard_size=13, workers=1, progress=False)
    write_dataset(tmp_path / "b", partial(generate_clip, cfg, 3), splits, desc, shard_size=13, workers=1,
                  progress=False)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 6  # dataset.json, 4 shards, the manifest
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_paint_is_a_palette_lookup(seed, k):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 9)), 7)
    labels = rng.integers(0, k + 1, size=shape, dtype=np.uint8)
    palette = rng.integers(0, 256, size=(k + 1, 3)).tolist()
    got = paint(labels, palette[0], palette[1:])
    assert got.dtype == np.uint8 and got.flags.c_contiguous
    assert np.array_equal(got, np.asarray(palette, np.uint8)[labels])


def test_coverage_of_many_targets_is_coverage_of_each(clips):
    """shape_coverages (one batch) gives every target the answer shape_coverage gives it alone,
    including a target moved out of the frame (nothing of it is ever seen)."""
    groups = []
    for c in clips[:3]:
        vertices = [np.array(o["vertices"]) for o in c.meta["objects"]]
        for k in c.target_ids():
            o = c.meta["objects"][k]
            maps = rigid_maps(*np.array(o["pose"]).T)
            groups.append((np.array(o["canonical"]), maps, vertices[k + 1:],
                           c.amodal[:, k] & (c.visible != k + 1)))
    canonical, maps, front, hidden = groups[0]
    groups.append((canonical, maps + [[0, 0, 500.0], [0, 0, 0]], front, hidden))  # grid off-frame: unseen
    batch = shape_coverages([g[0] for g in groups], np.stack([g[1] for g in groups]), [g[2] for g in groups],
                            np.stack([g[3] for g in groups]), 1.0)
    for g, got in zip(groups, batch, strict=True):
        want = shape_coverage(*g, 1.0)
        assert (got.grid_samples, got.pixel_samples) == (want.grid_samples, want.pixel_samples)
        assert np.array_equal(got.unseen, want.unseen)
    assert [len(b.unseen) == 0 for b in batch] == [True] * (len(groups) - 1) + [False]
    assert len(batch[-1].unseen) >= batch[-1].grid_samples > 0


def test_batches_are_capped_by_pixels(monkeypatch):
    """Large clips are made a few at a time (flat memory); the clips do not depend on the batch size."""
    import generators.scenes.engine as engine

    cfg = ChewingGumConfig(height=32, width=32, frames=4, radius=(4.5, 6.5))
    want = [encode_clip(c) for c in generate_clips(cfg, 2, range(6), "train")]
    seen = []
    real = engine._batch
    monkeypatch.setattr(engine, "_batch", lambda *a: seen.append(len(a[3])) or real(*a))
    monkeypatch.setattr(engine, "BATCH_PIXELS", 4 * 3 * 32 * 32 * 4)  # four clips per batch
    assert [encode_clip(c) for c in generate_clips(cfg, 2, range(6), "train")] == want
    assert seen == [4, 2]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_compose_visible_is_the_front_most_object(seed):
    """Labels equal painting the masks back to front (ties in depth: the later object in front)."""
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 7))
    amodal = rng.random((3, K, 5, 6)) < rng.random()
    depth = rng.integers(0, 4, K).tolist()
    want = np.zeros((3, 5, 6), np.uint8)
    for k in sorted(range(K), key=lambda k: depth[k]):
        want[amodal[:, k]] = k + 1
    assert np.array_equal(compose_visible(amodal, depth), want)


# --- options added later: arms, occluder_scale, and the gum-hard config ------------------------------

def mask_digest(config: ChewingGumConfig, clips: int = 3) -> str:
    """sha256 of the amodal and visible masks of the first ``clips`` train clips of seed 0."""
    import hashlib

    h = hashlib.sha256()
    for i in range(clips):
        c = generate_clip(config, 0, i, "train")
        h.update(c.amodal.tobytes())
        h.update(c.visible.tobytes())
    return h.hexdigest()


def test_default_clips_keep_their_bytes():
    """The masks of three default clips, pinned before the arms / occluder_scale options existed: new
    options must not draw from the clip's generator, nor enter meta, unless they are set. (Masks only:
    a last-bit difference of sin/cos between machines can change meta's floats, not centre samples.)"""
    assert mask_digest(DEFAULT) == "bfde79242b90f6c2de01cc4f1a9a943bbf91cdf5a10d64355d5ddd7770c467a5"
    assert not {"arms", "arm_length", "arm_width", "occluder_scale"} & set(DEFAULT.to_dict())
    armed = ChewingGumConfig(arms=(1, 2), occluder_scale=1.5)
    assert armed.to_dict()["arms"] == [1, 2] and ChewingGumConfig.from_dict(armed.to_dict()) == armed


def test_gum_hard_config_makes_checked_clips_with_arms_and_big_occluders():
    import yaml

    from generators.config import ChewingGumConfig as Cfg

    root = Path(__file__).resolve().parents[1]
    cfg = Cfg.from_dict(yaml.safe_load((root / "recipes/data/gum-hard.yaml").read_text()))
    assert cfg.arms[1] > 0 and cfg.occluder_scale > 1.0
    for clip in generate_clips(cfg, 0, [0, 1], "train"):
        assert check_clip(clip) == []
        objs = clip.meta["objects"]
        for o in objs:
            assert o["coverage"] == 1.0 if o["role"] == "target" else "coverage" not in o
        target, occluder = objs[0], objs[-1]
        assert occluder["radius"] >= cfg.radius[0] * cfg.occluder_scale - 1e-9
        reach = np.hypot(*np.asarray(target["canonical"]).T).max()
        assert reach > target["radius"] * (1 + cfg.radius_jitter)  # an arm sticks out of the body
