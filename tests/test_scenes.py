"""The scene engine (generators/scenes/): every preset generates and verifies, occlusion control,
exact flows under affine, non-rigid and camera motion, the guarantee, errors, the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from generators.geometry import fit_affine, invert_affine, pixel_centres, rasterize
from generators.scenes.config import SceneConfig, load_scene
from generators.scenes.engine import generate_clip
from generators.scenes.families import FAMILY_MAKERS, make_shape, rings
from generators.scenes.verify_scene import check_clip, warp_back_problems
from savos.cli.gen import main
from savos.data import open_dataset
from savos.data.codec import decode_clip, encode_clip
from savos.errors import SavosError

PRESETS = sorted(Path(__file__).parent.parent.joinpath("recipes", "scenes").glob("*.yaml"))
SMALL = {"frame": {"height": 40, "width": 40, "frames": 8}, "targets": {"size": [6.0, 8.0]},
         "occluders": {"size": [6.0, 8.0]}}


def _small(**extra) -> SceneConfig:
    d = json.loads(json.dumps(SMALL))
    for key, value in extra.items():
        d.setdefault(key, {}).update(value) if isinstance(value, dict) else d.__setitem__(key, value)
    return SceneConfig.from_dict(d)


def _roundtrip(clip):
    return decode_clip(dict(encode_clip(clip)))


def test_presets_exist():
    names = {p.stem for p in PRESETS}
    assert {"gum", "gum-paper", "shapes", "textured", "nonrigid", "camera", "fence", "heldout"} <= names


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_preset_generates_and_verifies(preset):
    cfg = load_scene(preset)
    for index in (0, 1):
        clip = _roundtrip(generate_clip(cfg, 3, index, "train"))
        assert check_clip(clip) == []
        assert clip.amodal.shape == (cfg.frame.frames, len(clip.meta["objects"]), cfg.frame.height,
                                     cfg.frame.width)


def test_heldout_families_are_used_by_no_other_preset():
    def families(path):
        cfg = load_scene(path)
        return set(cfg.targets.families) | (set(cfg.occluders.families) if cfg.occluders.count[1] else set())
    held = families(next(p for p in PRESETS if p.stem == "heldout"))
    others = set().union(*(families(p) for p in PRESETS if p.stem != "heldout"))
    assert held and not held & others


def test_same_seed_same_bytes_and_seed_zero_is_a_seed():
    cfg = _small()
    a, b = encode_clip(generate_clip(cfg, 0, 5, "val")), encode_clip(generate_clip(cfg, 0, 5, "val"))
    assert a == b
    assert encode_clip(generate_clip(cfg, 1, 5, "val")) != a


def test_occlusion_rate_control_holds_statistically():
    """Every target frame lies in the requested range (a hard bound), and moving the range (with the
    planner's sweep offset) moves the whole distribution."""
    means = []
    for rate, offset in (((0.03, 0.5), (0.8, 1.2)), ((0.3, 0.95), (0.0, 0.4))):
        cfg = _small(occlusion={"rate": list(rate), "sweep_offset": list(offset)}, max_attempts=5000)
        clips = [generate_clip(cfg, 0, i, "train") for i in range(3)]
        rates = np.concatenate([c.occlusion_rate()[:, c.target_ids()] for c in clips])
        assert rates.min() >= rate[0] - 1e-9 and rates.max() <= rate[1] + 1e-9
        assert rates.std() > 0.02  # a range, not one value
        means.append(rates.mean())
    assert means[1] > means[0] + 0.15


def test_occlusion_frames_fraction():
    cfg = _small(occlusion={"rate": [0.3, 0.9], "frames": 0.5}, max_attempts=2000)
    for i in range(4):
        clip = generate_clip(cfg, 0, i, "train")
        r = clip.occlusion_rate()[:, clip.target_ids()]
        assert (((r >= 0.3) & (r <= 0.9)).sum(axis=0) >= 4).all()


def test_guarantee_every_part_seen():
    clip = generate_clip(_small(), 0, 0, "train")
    for k in clip.target_ids():
        assert clip.meta["objects"][k]["coverage"] == 1.0


def _visible_pixels(clip, t, k):
    H, W = clip.size
    xs, ys = pixel_centres(H, W)
    flat = np.flatnonzero(clip.visible[t] == k + 1)
    return flat, xs[flat], ys[flat]


def test_flow_exact_under_affine_motion():
    """Scaling and shear: the motion fitted to the recorded vertices gives the stored flows."""
    cfg = _small(targets={"motion": {"scaling": [0.01, 0.03], "shear": [0.01, 0.03]}})
    clip = _roundtrip(generate_clip(cfg, 0, 0, "train"))
    for k in clip.target_ids():
        v = np.asarray(clip.meta["objects"][k]["vertices"])
        maps, residual = fit_affine(v[:-1], v[1:])
        assert residual.max() < 1e-9
        assert np.abs(maps[:, :, :2] - np.eye(2)).max() > 1e-3  # not a translation
        for t in range(clip.num_frames - 1):
            flat, x, y = _visible_pixels(clip, t, k)
            want = np.stack([maps[t, 0, 0] * x + maps[t, 0, 1] * y + maps[t, 0, 2] - x,
                             maps[t, 1, 0] * x + maps[t, 1, 1] * y + maps[t, 1, 2] - y], -1)
            assert np.abs(clip.flow_fwd[t].reshape(-1, 2)[flat] - want).max() < 0.01


def test_flow_exact_under_nonrigid_motion():
    """The warp written out here (x += ax sin(kx y + px), then y += ay sin(ky x + py), in own
    coordinates) gives the stored amodal flow; the next mask warped back matches up to its boundary."""
    cfg = _small(targets={"motion": {"nonrigid": [0.4, 0.6]}})
    clip = _roundtrip(generate_clip(cfg, 0, 0, "train"))
    H, W = clip.size
    xs, ys = pixel_centres(H, W)
    for k in clip.target_ids():
        obj = clip.meta["objects"][k]
        maps, warps = np.asarray(obj["maps"]), np.asarray(obj["warps"])
        assert np.abs(warps[:, [0, 3]]).max() > 0.1
        for t in range(clip.num_frames - 1):
            flat = np.flatnonzero(clip.amodal[t, k])
            inv = invert_affine(maps[t])
            u = inv[0, 0] * xs[flat] + inv[0, 1] * ys[flat] + inv[0, 2]
            v = inv[1, 0] * xs[flat] + inv[1, 1] * ys[flat] + inv[1, 2]
            ax, kx, px, ay, ky, py = warps[t]
            u = u + ax * np.sin(kx * v + px)
            v = v + ay * np.sin(ky * u + py)
            a = maps[t + 1]
            want = np.stack([a[0, 0] * u + a[0, 1] * v + a[0, 2] - xs[flat],
                             a[1, 0] * u + a[1, 1] * v + a[1, 2] - ys[flat]], -1)
            assert np.abs(clip.amodal_flow_fwd[t, k].reshape(-1, 2)[flat] - want).max() < 0.01
    vertices = [np.asarray(o["vertices"]) for o in clip.meta["objects"]]
    assert warp_back_problems(clip.amodal, clip.amodal_flow_fwd, vertices) == []
    assert warp_back_problems(clip.amodal, clip.amodal_flow_fwd * 0 + 3, vertices)  # wrong flow is caught


def test_flow_exact_under_camera_motion():
    """The background moves by the camera's frame-to-frame map; it is not still."""
    cfg = _small(camera={"pan": [0.5, 1.0], "zoom": [0.01, 0.02]}, background={"kind": "gradient"})
    clip = _roundtrip(generate_clip(cfg, 0, 0, "train"))
    cam = np.asarray(clip.meta["camera"])
    H, W = clip.size
    xs, ys = pixel_centres(H, W)
    for t in range(clip.num_frames - 1):
        flat = np.flatnonzero(clip.visible[t] == 0)
        inv = invert_affine(cam[t])
        wx = inv[0, 0] * xs[flat] + inv[0, 1] * ys[flat] + inv[0, 2]
        wy = inv[1, 0] * xs[flat] + inv[1, 1] * ys[flat] + inv[1, 2]
        c = cam[t + 1]
        want = np.stack([c[0, 0] * wx + c[0, 1] * wy + c[0, 2] - xs[flat],
                         c[1, 0] * wx + c[1, 1] * wy + c[1, 2] - ys[flat]], -1)
        got = clip.flow_fwd[t].reshape(-1, 2)[flat]
        assert np.abs(got - want).max() < 0.01 and np.abs(got).max() > 0.3
    assert check_clip(clip) == []


def test_check_finds_tampering():
    clip = _roundtrip(generate_clip(_small(), 0, 1, "train"))
    k = clip.target_ids()[0]
    t, r, c = np.argwhere(clip.visible[:-1] == k + 1)[0]
    clip.flow_fwd[t, r, c, 0] += 0.5
    assert any("flow_fwd" in p for p in check_clip(clip))
    clip = _roundtrip(generate_clip(_small(), 0, 1, "train"))
    clip.meta["objects"][0]["vertices"][2][0][0] += 1.0
    assert any("vertices" in p for p in check_clip(clip))


def test_families_are_simple_shapes_of_their_size():
    rng = np.random.default_rng(0)
    for family in FAMILY_MAKERS:
        p = make_shape(rng, family, 10.0, (7, 12), 0.3)
        assert abs(np.hypot(p[:, 0], p[:, 1]).max() - 10.0) < 2.5, family
        area = rasterize(p[None] + 20.0, 40, 40)[0].sum()
        assert 60 < area < 320, (family, area)  # a disk of radius 10 covers ~314 pixels


def test_rings_make_a_union_and_holes():
    sq = lambda x, y, s: np.array([[x, y], [x + s, y], [x + s, y + s], [x, y + s]], float)  # noqa: E731
    union = rasterize(rings([sq(0, 0, 4), sq(10, 10, 4), sq(20, 0, 4)])[None], 32, 32)[0]
    assert union.sum() == 48
    ring = rasterize(rings([sq(-0.5, -0.5, 20), sq(3.5, 3.5, 12)])[None], 32, 32)[0]
    assert ring.sum() == 400 - 144 and not ring[10, 10]


@pytest.mark.parametrize("text, key", [
    ("targets:\n  motion:\n    speed: 3\n", "targets.motion.speed"),
    ("targets:\n  familes: [gum]\n", "targets.familes"),
    ("occluders:\n  families: [gum, blob]\n", "occluders.families[1]"),
    ("layout: path\n", "targets.count"),
    ("frame: [1, 2]\n", "frame"),
])
def test_bad_scene_yaml_is_one_line_naming_file_and_key(tmp_path, text, key):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SavosError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_scene(path)
    result = CliRunner().invoke(main, ["scene", str(path), "--n", "2", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and key in lines[0] and "Traceback" not in result.output


def test_cli_scene_then_verify_and_resume(tmp_path):
    scene = tmp_path / "scene.yaml"
    scene.write_text(json.dumps({**SMALL, "targets": {**SMALL["targets"], "families": ["ellipse", "star"]}}))
    args = ["scene", str(scene), "--n", "4", "--val", "1", "--test", "1", "--shard-size", "1", "-q",
            "--workers", "1"]
    runner = CliRunner()
    assert runner.invoke(main, [*args, "--out", str(tmp_path / "a"), "--shard", "1/2"]).exit_code == 0
    assert not (tmp_path / "a" / "dataset.json").exists()
    assert runner.invoke(main, [*args, "--out", str(tmp_path / "a"), "--shard", "0/2"]).exit_code == 0
    result = runner.invoke(main, ["verify", str(tmp_path / "a"), "--workers", "1", "-q"])
    assert result.exit_code == 0 and "OK" in result.output, result.output
    info = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert info["generator"] == "scene" and info["config"]["targets"]["families"] == ["ellipse", "star"]
    assert open_dataset(tmp_path / "a", "val")[0].meta["index"] == 2


def test_gum_preset_matches_chewing_gum_statistics(tmp_path):
    """recipes/scenes/gum.yaml is Chewing Gum as a preset: verify's statistics agree with those of
    `savos-gen chewing-gum`, whose clips the engine makes from it (the same arrays; only meta differs)."""
    runner = CliRunner()
    tiny = ["--n", "6", "--val", "0", "--test", "0", "--workers", "1", "-q"]
    gum_yaml = next(p for p in PRESETS if p.stem == "gum")
    assert runner.invoke(main, ["chewing-gum", *tiny, "--out", str(tmp_path / "cg")]).exit_code == 0
    assert runner.invoke(main, ["scene", str(gum_yaml), *tiny, "--out", str(tmp_path / "sc")]).exit_code == 0
    stats = []
    for name in ("cg", "sc"):
        result = runner.invoke(main, ["verify", str(tmp_path / name), "--workers", "1", "-q", "--json"])
        assert result.exit_code == 0, result.output
        stats.append(json.loads(result.output[:result.output.rindex("}") + 1])["stats"])
    a, b = stats
    assert a["target_frames"] == b["target_frames"] and b["coverage_min"] == 1.0
    for key in a["occlusion_hist"]:
        assert abs(a["occlusion_hist"][key] - b["occlusion_hist"][key]) <= 0.1 * a["target_frames"]
    for one, two in zip(open_dataset(tmp_path / "cg"), open_dataset(tmp_path / "sc"), strict=True):
        for name in ("rgb", "visible", "amodal", "flow_fwd", "flow_bwd", "amodal_flow_fwd"):
            assert np.array_equal(getattr(one, name), getattr(two, name)), name


def test_preview_and_gallery_of_scene_files(tmp_path):
    from PIL import Image

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for name in ("a", "b"):
        (scenes / f"{name}.yaml").write_text(json.dumps(SMALL))
    runner = CliRunner()
    result = runner.invoke(main, ["gallery", "--scenes", str(scenes), "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [".savos-files.json", "a.gif", "b.gif"]
    assert Image.open(tmp_path / "g" / "a.gif").n_frames == SMALL["frame"]["frames"]
    out = tmp_path / "one.gif"
    result = runner.invoke(main, ["preview", str(scenes / "a.yaml"), "--clip", "2", "--out", str(out)])
    assert result.exit_code == 0 and out.is_file(), result.output
    result = runner.invoke(main, ["gallery", "--scenes", str(tmp_path / "g"), "--out", str(tmp_path / "h")])
    assert result.exit_code == 2 and "no *.yaml" in result.output


@pytest.mark.parametrize("command", ["scene", "curriculum", "preview"])
@pytest.mark.parametrize("content", [None, b"\xff\xfe", b"[1, 2]", b"targets: {count: 3}"])
def test_bad_input_files_are_one_line(tmp_path, command, content):
    path = tmp_path / "in.yaml"
    if content is not None:
        path.write_bytes(content)
    args = {"scene": ["scene", str(path), "--n", "2", "--out", str(tmp_path / "o")],
            "curriculum": ["curriculum", str(path), "--n", "2", "--out", str(tmp_path / "o")],
            "preview": ["preview", str(path), "--out", str(tmp_path / "o.gif")]}[command]
    result = CliRunner().invoke(main, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and str(path) in lines[0], result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.gif").exists()
