"""Recipes: every shipped YAML loads; unknown keys, wrong types and bad overrides are one-line errors
naming the file and the key path; the resolved config round-trips through YAML."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from savos.cli.main import main
from savos.config import (
    Config,
    ConfigError,
    LossConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
)
from savos.errors import SavosError
from savos.models.configs import SaVosModelConfig
from savos.models.savos import build_savos
from savos.training.losses import savos_loss
from savos.training.methods import METHODS

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))


def test_recipes_exist():
    names = {p.name for p in RECIPES}
    assert {"gum.yaml", "gum-cpu.yaml", "gum-tiny.yaml"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_loads(path):
    config = load_config(path)
    assert config.method in METHODS
    assert isinstance(config.model, METHODS[config.method].model_config)
    # Round trip: the resolved dump loads to the same config.
    again = config_from_dict(yaml.safe_load(dump_config(config)))
    assert again == config


def test_savos_model_section_is_exactly_build_savos_kwargs():
    params = set(inspect.signature(build_savos).parameters) - {"patch"}  # patch comes from data.patch
    assert {f.name for f in dataclasses.fields(SaVosModelConfig)} == params
    defaults = {k: p.default for k, p in inspect.signature(build_savos).parameters.items() if k != "patch"}
    assert dataclasses.asdict(SaVosModelConfig()) == {k: tuple(v) if isinstance(v, list) else v
                                                      for k, v in defaults.items()}


def test_loss_section_is_exactly_savos_loss_kwargs():
    # every key is a weight of the loss, except occlude, which acts on the inputs (savos.training.hide)
    params = inspect.signature(savos_loss).parameters
    assert {f.name for f in dataclasses.fields(LossConfig)} == set(params) - {"out", "batch"} | {"occlude"}
    assert LossConfig().merged_weight == params["merged_weight"].default


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "x.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, key, what", [
    ("train:\n  lrr: 1.0\n", "train.lrr", "unknown key"),
    ("trian:\n  lr: 1.0\n", "trian", "unknown section"),
    ("train:\n  lr: abc\n", "train.lr", "expected float, got 'abc'"),
    ("train:\n  steps: 1.5\n", "train.steps", "expected int"),
    ("train:\n  steps: true\n", "train.steps", "expected int"),
    ("train:\n  schedule: linear\n", "train.schedule", "expected one of"),
    ("model:\n  enc_widths: 8\n", "model.enc_widths", "expected a list"),
    ("model:\n  enc_widths: [8, x]\n", "model.enc_widths[1]", "expected int"),
    ("model:\n  skips: 1\n", "model.skips", "expected true or false"),
    ("data: [1, 2]\n", "data", "expected a mapping"),
    ("train:\n  lr: -1.0\n", "train.lr", "must be in (0, 1]"),
    ("data:\n  window: 1\n", "data.window", "must be in [2, 1,000] frames"),
    ("method: magic\n", "method", "unknown method 'magic'"),
])
def test_bad_recipe_names_file_and_key(tmp_path, text, key, what):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert what in msg and "\n" not in msg


def test_yaml_11_exponent_without_dot_is_a_float(tmp_path):
    assert load_config(_write(tmp_path, "train:\n  lr: 3e-4\n")).train.lr == 3e-4


def test_overrides():
    path = RECIPES[0]
    config = load_config(path, ["train.lr=3e-4", "model.enc_widths=[8, 16]", "data.root=/x", "train.seed=0"])
    assert config.train.lr == 3e-4 and config.model.enc_widths == (8, 16) and config.data.root == "/x"
    assert config.train.seed == 0


@pytest.mark.parametrize("override, fragment", [
    ("train.lr=abc", "--set train.lr=abc: train.lr: expected float, got 'abc'"),
    ("train.nope=1", "--set train.nope=1: train.nope: unknown key"),
    ("train.lr", "--set train.lr: expected KEY=VALUE"),
    ("train.lr=[1", "--set train.lr=[1: value is not valid YAML"),
    ("train.lr.x=1", "--set train.lr.x=1: train.lr is not a section"),
])
def test_bad_override(override, fragment):
    with pytest.raises(ConfigError) as e:
        load_config(RECIPES[0], [override])
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_base_recipe_merges_under_the_file(tmp_path):
    (tmp_path / "parent.yaml").write_text(
        "data:\n  root: data/a\n  window: 8\nmodel:\n  enc_widths: [8, 16, 32]\n"
        "train:\n  steps: 100\n  warmup: 50\n  lr: 0.01\n")
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"  # base is relative to the recipe's own folder
    child.write_text("base: ../parent.yaml\ndata:\n  window: 4\nmodel:\n  enc_widths: [8, 16]\n")
    config = load_config(child)
    assert config.data.root == "data/a" and config.data.window == 4  # sections merge key by key
    assert config.model.enc_widths == (8, 16)  # lists replace
    assert config.train.lr == 0.01 and config.train.steps == 100
    assert config.source == str(child)
    # A chain of bases, and --set over all of them; the warm-up scales by the base's steps.
    grandchild = tmp_path / "gc.yaml"
    grandchild.write_text("base: sub/child.yaml\ntrain:\n  lr: 0.002\n")
    config = load_config(grandchild, ["train.steps=10"])
    assert (config.data.window, config.train.lr, config.train.steps, config.train.warmup) == (4, 0.002, 10, 5)
    assert "base" not in dump_config(config)  # the resolved config stands alone


def test_shipped_variants_state_only_their_differences():
    cpu = load_config(RECIPES[0].parent / "gum-cpu.yaml")
    hard = load_config(RECIPES[0].parent / "gum-hard-cpu.yaml")
    assert dataclasses.replace(hard, data=cpu.data, loss=cpu.loss, train=cpu.train) == cpu
    assert cpu.model.carry_clip
    assert (hard.data.root, hard.loss.horizon, hard.loss.lambda3, hard.loss.lambda0, hard.train.steps) == \
        ("data/gum-hard", 4, 0.5, 2.0, 3000)


@pytest.mark.parametrize("child, fragment", [
    ("base: nothere.yaml\n", "base: no such recipe {d}/nothere.yaml"),
    ("base: [a]\n", "base: expected the file name of another recipe"),
    ("base: x.yaml\n", "base: x.yaml leads back to {d}/x.yaml"),
    ("base: y.yaml\n", "base: x.yaml leads back to {d}/x.yaml"),  # y.yaml's base is x.yaml
    ("base: bad.yaml\n", "{d}/bad.yaml (the base of {d}/x.yaml): train.lrr: unknown key"),
    ("base: bad.yaml\ntrain:\n  lrr: 2\n", "{d}/x.yaml: train.lrr: unknown key"),
])
def test_bad_base_is_one_line_naming_the_file(tmp_path, child, fragment):
    (tmp_path / "y.yaml").write_text("base: x.yaml\n")
    (tmp_path / "bad.yaml").write_text("train:\n  lrr: 1\n")
    path = _write(tmp_path, child)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path}/"), msg
    assert fragment.format(d=tmp_path) in msg and "\n" not in msg


def test_defaults_and_frozen():
    config = config_from_dict({})
    assert config == Config(model=SaVosModelConfig(), source="other")  # source is not compared
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.lr = 1.0  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"steps: must be in \[1, 1,000,000,000\]"):
        TrainConfig(steps=0)
    assert config_to_dict(config)["model"]["enc_widths"] == list(SaVosModelConfig().enc_widths)


def test_cli_errors_are_one_line(tmp_path):
    runner = CliRunner()
    path = _write(tmp_path, "train:\n  lr: abc\n")
    result = runner.invoke(main, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {path}: train.lr: expected float, got 'abc'"

    result = runner.invoke(main, ["train", str(RECIPES[0]), "--set", "train.lr=x",
                                  "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1

    missing = tmp_path / "nodata"
    tiny = next(p for p in RECIPES if p.name == "gum-tiny.yaml")
    result = runner.invoke(main, ["train", str(tiny), "--set", f"data.root={missing}", "--out",
                                  str(tmp_path / "r2")])
    assert result.exit_code == 2
    line = result.output.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith(f"error: {tiny}: data.root: no dataset at {missing}")
    assert f"savos-gen chewing-gum --out {missing}" in line


def test_patch_must_fit_the_model_levels():
    tiny = next(p for p in RECIPES if p.name == "gum-tiny.yaml")
    config = load_config(tiny, ["data.patch=18"])
    with pytest.raises(SavosError, match=r"gum-tiny.yaml: data.patch: 18 must be "
                       r"divisible by 2\^2"):
        METHODS[config.method].build(config)
    # a pair [height, width]: both sides are checked, for every method; the message names data.patch
    config = load_config(tiny, ["data.patch=[16, 18]"])
    assert config.data.patch == (16, 18)
    with pytest.raises(SavosError, match=r"gum-tiny.yaml: data.patch: \[16, 18\] must be divisible by "
                       r"2\^2 \(both sides\)"):
        METHODS[config.method].build(config)
    for recipe in ("gum-image-ssl.yaml", "gum-oracle-unet.yaml"):
        path = next(p for p in RECIPES if p.name == recipe)
        config = load_config(path, ["data.patch=[24, 64]"])  # 4 levels: 24 is not divisible by 16
        with pytest.raises(SavosError, match=rf"{recipe}: data.patch: \[24, 64\] must be divisible by 2\^4 "
                           r"\(both sides\) \(model.widths"):
            METHODS[config.method].build(config)
        assert METHODS[config.method].build(load_config(path, ["data.patch=[32, 64]"])) is not None


@pytest.mark.parametrize("value, words", [("[64]", "expected int or a list of 2 ints"),
                                          ("[64, 128, 3]", "expected int or a list of 2 ints"),
                                          ("[64, x]", "expected int or a list of 2 ints"),
                                          ("[4, 64]", "must be in [8, 512]"),
                                          ("64.5", "expected int or a list of 2 ints")])
def test_patch_is_an_int_or_a_height_width_pair(value, words):
    tiny = next(p for p in RECIPES if p.name == "gum-tiny.yaml")
    with pytest.raises(SavosError) as e:
        load_config(tiny, [f"data.patch={value}"])
    assert str(e.value).startswith(f"--set data.patch={value}: data.patch") and words in str(e.value)
    assert "\n" not in str(e.value)
