"""The ownership rule (savos/outputs.py): a command replaces only what its own kind of output wrote in a
folder, and a folder holding another kind of output (a run, a dataset, predictions) is refused as its
``--out``, with or without ``--overwrite``, judged by the folder's manifest. Every refusal is one line
and leaves the folder byte for byte as it was."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny import tree_digest as _digest

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.cli.gen import main as gen_main
from savos.cli.main import main as savos_main
from savos.config import load_config
from savos.data.writer import write_dataset
from savos.errors import SavosError
from savos.evaluation.baselines import run_baseline
from savos.outputs import MANIFEST
from savos.training.train import train

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "gum-tiny.yaml"
TINY = {"height": 32, "width": 32, "frames": 4, "radius": [5.0, 7.0]}


def _dataset(root: Path, shard_size: int = 2) -> Path:
    config = ChewingGumConfig.from_dict(TINY)
    write_dataset(root, partial(generate_clip, config, 0), {"train": 2, "val": 1, "test": 2},
                  {"generator": "chewing-gum", "version": "test", "seed": 0, "config": config.to_dict(),
                   "amodal_flow": True}, shard_size=shard_size, workers=1, progress=False)
    return root


def _config(data: Path, *sets: str):
    return load_config(RECIPE, [f"data.root={data}", "train.val_every=2", "train.threads=1", *sets])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("own")
    data = _dataset(tmp / "data")
    train(_config(data, "train.steps=2"), tmp / "run", progress=False)
    pred = run_baseline("convex", data, "test", tmp / "pred", progress=False)
    assert CliRunner().invoke(savos_main, ["eval", str(pred), str(data), "-q"]).exit_code == 0
    return {"data": data, "run": tmp / "run", "pred": pred, "tmp": tmp}


def _one_line(result, *needles: str) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# command -> its argument list for output folder OUT (w: the world)
COMMANDS = {
    "predict": lambda w, out: (savos_main, ["predict", str(w["run"]), str(w["data"]), "--out", out,
                                            "--overwrite", "-q"]),
    "adapt": lambda w, out: (savos_main, ["adapt", str(w["run"]), str(w["data"]), "--out", out,
                                          "--overwrite", "-q"]),
    "baseline": lambda w, out: (savos_main, ["baseline", "visible", str(w["data"]), "--out", out,
                                             "--overwrite", "-q"]),
    "eval": lambda w, out: (savos_main, ["eval", str(w["pred"]), str(w["data"]), "--out", out, "-q"]),
    "train": lambda w, out: (savos_main, ["train", str(RECIPE), "--set", f"data.root={w['data']}",
                                          "--set", "train.steps=2", "--out", out, "-q"]),
    "report": lambda w, out: (savos_main, ["report", str(w["pred"]), "--out", out, "--overwrite", "-q"]),
    "chewing-gum": lambda w, out: (gen_main, ["chewing-gum", "--n", "3", "--height", "32", "--width", "32",
                                              "--frames", "4", "--out", out, "--workers", "1", "-q"]),
    "gallery": lambda w, out: (gen_main, ["gallery", "--out", out, "-q"]),
}
KIND = {"run": "a training run", "data": "a dataset", "pred": "predictions"}
SAME_KIND = {  # the same kind of output, or metrics beside predictions: allowed
    ("baseline", "pred"), ("predict", "pred"), ("eval", "pred"), ("train", "run"),
             ("chewing-gum", "data")}


@pytest.mark.parametrize(("name", "target"), [(n, t) for n in sorted(COMMANDS) for t in sorted(KIND)
                                               if (n, t) not in SAME_KIND])
def test_a_folder_of_another_kind_is_refused_and_kept(world, name, target):
    folder = world[target]
    before = _digest(folder)
    group, args = COMMANDS[name](world, str(folder))
    _one_line(CliRunner().invoke(group, args), f"--out {folder}: holds {KIND[target]}")
    assert _digest(folder) == before


def test_a_folder_without_a_manifest_is_known_by_its_files(world, tmp_path):
    data = shutil.copytree(world["data"], tmp_path / "data")
    (data / MANIFEST).unlink()  # a dataset written without one
    result = CliRunner().invoke(savos_main, ["eval", str(world["pred"]), str(data), "--out", str(data), "-q"])
    _one_line(result, "holds a dataset (dataset.json)")
    assert not (data / "metrics_savos.json").exists()


def test_a_fresh_train_keeps_a_best_pt_whose_last_pt_is_gone(world, tmp_path):
    run = shutil.copytree(world["run"], tmp_path / "run")
    (run / "last.pt").unlink()
    best = (run / "best.pt").read_bytes()
    args = ["train", str(RECIPE), "--set", f"data.root={world['data']}", "--set", "train.steps=2",
            "--out", str(run), "-q"]
    _one_line(CliRunner().invoke(savos_main, args), "best.pt", "no last.pt")
    assert (run / "best.pt").read_bytes() == best


def test_overwriting_predictions_keeps_the_metrics_eval_wrote_beside_them(world, tmp_path):
    pred = shutil.copytree(world["pred"], tmp_path / "pred")
    metrics = (pred / "metrics_savos.json").read_bytes()
    result = CliRunner().invoke(savos_main, ["baseline", "visible", str(world["data"]), "--out", str(pred),
                                             "--overwrite", "-q"])
    assert result.exit_code == 0, result.output
    assert '"method": "visible"' in (pred / "predictions.json").read_text()
    assert (pred / "metrics_savos.json").read_bytes() == metrics  # eval's, not baseline's to delete


def test_preview_never_replaces_a_file_of_the_users(world, tmp_path):
    mine = tmp_path / "clip.gif"
    mine.write_bytes(b"my own picture")
    for extra in ([], ["--overwrite"]):
        args = ["preview", str(world["data"]), "--out", str(mine), "-q", *extra]
        result = CliRunner().invoke(gen_main, args)
        _one_line(result, f"--out {mine}: exists and was not written by savos")
    assert mine.read_bytes() == b"my own picture"
    ours = tmp_path / "ours.gif"
    args = ["preview", str(world["data"]), "--out", str(ours), "-q"]
    assert CliRunner().invoke(gen_main, args).exit_code == 0
    _one_line(CliRunner().invoke(gen_main, args), "pass --overwrite")
    assert CliRunner().invoke(gen_main, [*args, "--clip", "1", "--overwrite"]).exit_code == 0


def test_resume_removes_only_exact_temporary_names(world, tmp_path):
    run = tmp_path / "run"
    train(_config(world["data"], "train.steps=4"), run, stop_after=2, progress=False)
    stale = run / ".last.pt.tmp-999999"
    stale.write_bytes(b"half")
    users = [".last.pt.tmp-old", "last.pt.tmp-1", ".best.pt.tmp-12a", ".notes.tmp-1", ".config.yaml.tmp-"]
    for name in users:
        (run / name).write_text("mine")
    train(_config(world["data"], "train.steps=4"), run, resume=True, progress=False)
    assert not stale.exists()
    assert all((run / name).read_text() == "mine" for name in users)


def test_finishing_a_dataset_removes_only_exact_temporary_names(tmp_path):
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    (root / "train" / "notes.txt").write_text("mine")
    with pytest.raises(SavosError, match="not a savos dataset"):  # a folder of the user's files
        _dataset(root)
    shutil.rmtree(root)
    config = ChewingGumConfig.from_dict(TINY)
    make = partial(write_dataset, root, partial(generate_clip, config, 0), {"train": 2, "val": 1, "test": 2},
                   {"generator": "chewing-gum", "version": "test", "seed": 0, "config": config.to_dict(),
                    "amodal_flow": True}, shard_size=1, workers=1, progress=False)
    assert make(shard=(0, 2)) is None
    users = ["shard-000000.tar.tmp-1", ".shard-000000.tar.tmp-mine", ".shard-000001.tar.tmp-"]
    for name in users:
        (root / "train" / name).write_text("mine")
    stale = root / "train" / ".shard-000001.tar.tmp-999999"  # a killed run's
    stale.write_bytes(b"half")
    assert make(shard=(1, 2)) is not None
    assert not stale.exists() and all((root / "train" / n).read_text() == "mine" for n in users)


@pytest.mark.parametrize("name", ["preview", "chewing-gum", "baseline", "train", "eval"])
def test_an_over_long_output_name_is_named_as_given(world, name, tmp_path):
    if name == "preview":
        out = tmp_path / ("a" * 250 + ".gif")  # fits; its temporary name would not
        group, args = gen_main, ["preview", str(world["data"]), "--out", str(out), "-q"]
    else:
        out = tmp_path / ("b" * 256)
        group, args = COMMANDS[name](world, str(out))
    line = _one_line(CliRunner().invoke(group, args), f"{out}: the name is too long")
    assert ".tmp-" not in line
    assert sorted(tmp_path.iterdir()) == []
