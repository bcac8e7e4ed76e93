"""Chewing Gum is a preset of the scene engine: its config translates to a scene config of layout gum,
`savos-gen chewing-gum` makes its clips through generators/scenes/engine.py, and the engine, given the
translated config, makes the same clips (arrays bit for bit; only meta's format differs), gum-hard's
arms and large occluders included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from test_chewing_gum import mask_digest

import generators.scenes.engine as engine
from generators.chewing_gum import ChewingGumConfig, ClipMaker, generate_clip, generate_clips, scene_config
from generators.geometry import rigid_maps
from generators.scenes.config import GumConfig, SceneConfig, load_scene
from generators.scenes.guarantee import frames_in_range
from generators.scenes.verify_scene import check_clip as check_scene_clip
from generators.verify_gum import check_clip as check_gum_clip
from savos.cli.gen import main
from savos.data import open_dataset
from savos.errors import SavosError

ROOT = Path(__file__).resolve().parents[1]
HARD = ChewingGumConfig.from_dict(yaml.safe_load((ROOT / "recipes/data/gum-hard.yaml").read_text()))
SMALL = ChewingGumConfig(height=40, width=48, frames=6, radius=(5.5, 8.0), num_targets=3, num_occluders=2,
                         max_attempts=1000)
ARRAYS = ("rgb", "visible", "amodal", "flow_fwd", "flow_bwd", "amodal_flow_fwd")


def test_the_default_config_is_the_gum_preset():
    assert scene_config(ChewingGumConfig()) == load_scene(ROOT / "recipes/scenes/gum.yaml")


def test_gum_hard_translates_its_arms_and_occluder_scale():
    cfg = scene_config(HARD)
    assert cfg.layout == "gum" and cfg.gum == GumConfig(arms=HARD.arms, arm_length=HARD.arm_length,
                                                         arm_width=HARD.arm_width, occluder_scale=2.0)
    assert cfg.targets.count == (1, 1) and cfg.targets.size == HARD.radius
    assert cfg.occlusion.rate == (HARD.min_occlusion, HARD.max_occlusion)
    assert cfg.occlusion.sweep_offset == HARD.sweep_offset and cfg.targets.motion.rotation == HARD.rotation


def test_min_occlusion_zero_still_hides_a_pixel_of_every_frame():
    """Chewing Gum never shows a target whole, even at min_occlusion 0: the translated rate keeps that."""
    rate = scene_config(ChewingGumConfig(min_occlusion=0.0)).occlusion.rate
    area = np.array([2, 50, 4000])
    assert not frames_in_range(area, np.zeros(3, int), rate).any()
    assert frames_in_range(area, np.ones(3, int), rate).all()


@pytest.mark.parametrize("cfg, seed", [(ChewingGumConfig(), 0), (HARD, 4), (SMALL, 9)],
                         ids=["default", "gum-hard", "crowded"])
def test_the_engine_makes_the_chewing_gum_clip(cfg, seed):
    """The engine, given the translated config, makes `savos-gen chewing-gum`'s clips: the same arrays
    bit for bit and the same shapes and motions, recorded in the scene format (and verified as such)."""
    indices = [0, 3, 1]
    gum = generate_clips(cfg, seed, indices, "val")
    for i, g in zip(indices, gum, strict=True):
        s = engine.generate_clip(scene_config(cfg), seed, i, "val")
        for name in ARRAYS:
            assert np.array_equal(getattr(g, name), getattr(s, name)), name
        assert s.meta["generator"] == "scene" and g.meta["generator"] == "chewing-gum"
        assert s.meta["attempts"] == g.meta["attempts"]
        for a, b in zip(g.meta["objects"], s.meta["objects"], strict=True):
            for key in ("role", "color", "sweeps", "canonical", "vertices", "occlusion_rate", "coverage"):
                assert a.get(key) == b.get(key), key
            assert np.array_equal(rigid_maps(*np.array(a["pose"]).T), b["maps"])
            assert a["radius"] == b["size"]
        assert check_gum_clip(g) == [] and check_scene_clip(s) == []
    if cfg is HARD:  # an arm sticks out of the target's body; the occluder is twice the size
        target, occluder = gum[0].meta["objects"][0], gum[0].meta["objects"][-1]
        assert np.hypot(*np.array(target["canonical"]).T).max() > target["radius"] * (1 + HARD.radius_jitter)
        assert occluder["radius"] >= HARD.radius[0] * HARD.occluder_scale


def test_gum_hard_clips_keep_their_bytes():
    """The masks of three gum-hard clips, pinned when Chewing Gum still had its own pipeline (as
    test_chewing_gum.py pins default clips): made by the engine now, they must not change."""
    assert mask_digest(HARD) == "6765aeb33c36ba178dcd27c89ee7ffa2605006ef4b5d8829f934d6d1857c7685"


def test_chewing_gum_goes_through_the_engine(monkeypatch):
    """Every way of making Chewing-Gum clips draws its layouts in the engine (no second pipeline)."""
    drawn = []
    real = engine.sample_layout
    monkeypatch.setattr(engine, "sample_layout", lambda rng, cfg: drawn.append(cfg.layout) or real(rng, cfg))
    one = generate_clip(HARD, 0, 2, "train")
    assert drawn and set(drawn) == {"gum"} and len(drawn) == one.meta["attempts"]
    maker = ClipMaker(HARD, 0)
    assert isinstance(maker, engine.ClipMaker) and maker.config == scene_config(HARD)
    drawn.clear()
    clips = list(maker.many([2, 5], "train"))
    assert len(drawn) == sum(c.meta["attempts"] for c in clips)
    assert json.dumps(clips[0].meta) == json.dumps(one.meta)


def test_gum_section_is_for_layout_gum_and_kept_out_of_older_configs():
    assert "gum" not in load_scene(ROOT / "recipes/scenes/gum.yaml").to_dict()
    d = scene_config(HARD).to_dict()
    assert d["gum"]["arms"] == [1, 3] and SceneConfig.from_dict(d) == scene_config(HARD)
    with pytest.raises(SavosError, match=r"^x.yaml: gum: options of layout gum alone"):
        SceneConfig.from_dict({"layout": "sweep", "gum": {"arms": [1, 2]}}, "x.yaml")
    with pytest.raises(SavosError, match=r"^x.yaml: gum.occluder_scale: expected 0.2..5"):
        SceneConfig.from_dict({"layout": "gum", "gum": {"occluder_scale": 9}}, "x.yaml")
    with pytest.raises(SavosError, match=r"^x.yaml: gum.wobble: unknown key"):
        SceneConfig.from_dict({"layout": "gum", "gum": {"wobble": 1}}, "x.yaml")


def test_gum_hard_from_both_commands_verifies_and_agrees(tmp_path):
    """gum-hard via `savos-gen chewing-gum --config` and its translation via `savos-gen scene`: both
    verify, and their clips are the same."""
    scene_yaml = tmp_path / "gum-hard-scene.yaml"
    scene_yaml.write_text(yaml.safe_dump(scene_config(HARD).to_dict()))
    tiny = ["--n", "3", "--val", "0", "--test", "0", "--workers", "1", "-q"]
    runner = CliRunner()
    hard_yaml = str(ROOT / "recipes/data/gum-hard.yaml")
    commands = (["chewing-gum", "--config", hard_yaml], ["scene", str(scene_yaml)])
    for args in commands:
        out = tmp_path / args[0]
        result = runner.invoke(main, [*args, *tiny, "--out", str(out)])
        assert result.exit_code == 0, result.output
        result = runner.invoke(main, ["verify", str(out), "--workers", "1", "-q"])
        assert result.exit_code == 0 and "OK" in result.output, result.output
    a, b = open_dataset(tmp_path / "chewing-gum"), open_dataset(tmp_path / "scene")
    for i in range(3):
        assert np.array_equal(a[i].amodal, b[i].amodal) and np.array_equal(a[i].rgb, b[i].rgb)
    assert a[0].meta["config"] == HARD.to_dict() and b[0].meta["config"]["gum"]["occluder_scale"] == 2.0
