"""Prediction files are tied to their clip and their dataset: each ``<key>.npz`` records its clip key and the
dataset fingerprint, every writer (`savos predict`, `savos baseline`, `savos adapt`) records them, and every
reader (`savos eval`, `savos report`, `savos-gen preview --pred`) refuses swapped or renamed files, a file of
another prediction folder, a ``shape`` member of the wrong rank, and predictions of another dataset. Each
refusal is one ``error:`` line naming the file, with a non-zero exit and the folder unchanged.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tiny import tiny_gum
from tiny import tree_digest as _digest

from savos.cli.gen import main as gen_main
from savos.cli.main import main as savos_main
from savos.config import load_config
from savos.data import fingerprint, open_dataset
from savos.evaluation.baselines import run_baseline
from savos.evaluation.predictions import open_predictions
from savos.training.train import train

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
PROGRESS = re.compile(r"^[\w ]+: +\d+%\|")  # a progress bar (report scores with one), not a message


def _gum(root: Path, seed: int) -> Path:
    return tiny_gum(root, {"train": 2, "val": 1, "test": 3}, seed)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ties")
    data, other = _gum(tmp / "data", 0), _gum(tmp / "other", 1)
    return {"data": data, "other": other, "tmp": tmp,
            "pred": run_baseline("convex", data, "test", tmp / "pred", progress=False),
            "other_pred": run_baseline("convex", other, "test", tmp / "other_pred", progress=False)}


def _members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(path: Path, **members) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{**_members(path), **members})
    path.write_bytes(buf.getvalue())


def _one_line(cli, args, expect: str, unchanged=()) -> str:
    before = {p: _digest(p) for p in unchanged}
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"uncaught {type(result.exception).__name__}: {result.exception}"
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")
             and not PROGRESS.match(ln)]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert expect in lines[0], lines[0]
    for p, digest in before.items():
        assert _digest(p) == digest, f"{p} was changed"
    return lines[0]


def test_every_writer_records_the_clip_key_and_the_dataset(world, tmp_path):
    recipe = tmp_path / "tiny.yaml"
    data = world["data"]
    recipe.write_text((RECIPES / "gum-tiny.yaml").read_text().replace("root: data/gum", f"root: {data}"))
    train(load_config(recipe, ["train.steps=2", "train.val_every=2"]), tmp_path / "run", progress=False)
    runner = CliRunner()
    assert runner.invoke(savos_main, ["predict", str(tmp_path / "run"), str(data), "--out",
                                      str(tmp_path / "p"), "-q"]).exit_code == 0
    assert runner.invoke(savos_main, ["adapt", str(tmp_path / "run"), str(data), "--out", str(tmp_path / "a"),
                                      "--clips", "0-1", "--set", "adapt.max_iters=1", "-q"]).exit_code == 0
    keys = [open_dataset(data, "test").locate(i)[1] for i in range(3)]
    for folder, expect in ((world["pred"], keys), (tmp_path / "p", keys), (tmp_path / "a", keys[:2]),
                           (tmp_path / "a" / "before", keys[:2])):
        preds = open_predictions(folder)
        assert preds.keys() == expect and preds.info["dataset_id"] == fingerprint(data)
        for key in expect:
            m = _members(folder / f"{key}.npz")
            assert str(m["key"]) == key and str(m["dataset_id"]) == fingerprint(data)
            preds.load(key)


def _swapped(world, tmp: Path) -> Path:
    p = tmp / "pred"
    shutil.copytree(world["pred"], p)
    a, b = p / "clip_000003.npz", p / "clip_000004.npz"
    data_a = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data_a)
    return p


def _mixed(world, tmp: Path) -> Path:
    """One file of the same name copied in from the predictions of another dataset."""
    p = tmp / "pred"
    shutil.copytree(world["pred"], p)
    other = sorted(world["other_pred"].glob("clip_*.npz"))[0]
    shutil.copy(other, p / other.name)
    return p


READERS = {  # name -> (cli, args reading folder p of dataset d)
    "eval": lambda p, d, tmp: (savos_main, ["eval", p, d, "--out", tmp / "e", "-q"]),
    "report": lambda p, d, tmp: (savos_main, ["report", p, "--data", d, "--out", tmp / "rep", "--clips",
                                              "3"]),
    "preview": lambda p, d, tmp: (gen_main, ["preview", d, "--pred", p, "--out", tmp / "v.gif"]),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_swapped_clip_files_are_refused(world, tmp_path, reader):
    p = _swapped(world, tmp_path)
    cli, args = READERS[reader](p, world["data"], tmp_path)
    line = _one_line(cli, args, "clip_00000", [p])
    assert "holds the prediction of clip" in line and "swapped or renamed" in line


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_file_of_another_dataset_is_refused(world, tmp_path, reader):
    p = _mixed(world, tmp_path)
    cli, args = READERS[reader](p, world["data"], tmp_path)
    line = _one_line(cli, args, "clip_000003.npz", [p])
    assert f"was made on dataset {fingerprint(world['other'])}" in line


@pytest.mark.parametrize("reader", sorted(READERS))
def test_predictions_of_another_dataset_are_refused(world, tmp_path, reader):
    cli, args = READERS[reader](world["other_pred"], world["data"], tmp_path)
    _one_line(cli, args, str(world["other_pred"]), [world["other_pred"]])


SHAPES = {"scalar": np.int64(3), "matrix": np.ones((2, 2), np.int64), "five": np.ones(5, np.int64),
          "floats": np.array([8.0, 2.0, 32.0, 32.0]), "strings": np.array(["8", "2", "32", "32"])}


@pytest.mark.parametrize("reader", ["eval", "preview"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_shape_member_of_the_wrong_rank_or_type_is_one_line(world, tmp_path, reader, shape):
    p = tmp_path / "pred"
    shutil.copytree(world["pred"], p)
    _rewrite(p / "clip_000003.npz", shape=SHAPES[shape])
    cli, args = READERS[reader](p, world["data"], tmp_path)
    line = _one_line(cli, args, "clip_000003.npz: corrupt prediction file", [p])
    assert "shape" in line


@pytest.mark.parametrize("member", ["key", "dataset_id"])
def test_a_file_without_its_ties_is_one_line(world, tmp_path, member):
    p = tmp_path / "pred"
    shutil.copytree(world["pred"], p)
    path = p / "clip_000003.npz"
    members = _members(path)
    members.pop(member)
    buf = io.BytesIO()
    np.savez_compressed(buf, **members)
    path.write_bytes(buf.getvalue())
    _one_line(savos_main, ["eval", p, world["data"], "-q"], f"{path}: corrupt prediction file", [p])
    _rewrite(path, **{member: np.array([1, 2])})
    _one_line(savos_main, ["eval", p, world["data"], "-q"], "not a string", [p])


def test_a_folder_of_the_untied_format_is_refused(world, tmp_path):
    p = tmp_path / "pred"
    shutil.copytree(world["pred"], p)
    info = json.loads((p / "predictions.json").read_text())
    (p / "predictions.json").write_text(json.dumps({**info, "format_version": 2}))
    _one_line(savos_main, ["eval", p, world["data"], "-q"], "format version 2 is not supported", [p])
