"""Every command against every class of bad input: missing, empty, truncated, wrong type, not
UTF-8, wrong dataset, unwritable output, traversal, absurd size.

Each case asserts: a non-zero exit, exactly one line on stderr that names the input, no traceback, and
that every input folder is byte-for-byte unchanged. Fault tests (kill -9, full disk) are in
tests/test_faults.py.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny import tiny_gum
from tiny import tree_digest as _digest

from savos.cli.gen import main as gen_main
from savos.cli.main import main as savos_main
from savos.config import load_config
from savos.data import read_info
from savos.errors import SavosError
from savos.evaluation.baselines import run_baseline
from savos.evaluation.predictions import open_predictions
from savos.training.train import train

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
NOT_UTF8 = b"data:\n  root: caf\xe9\n"


def _dataset(root: Path, seed: int) -> Path:
    return tiny_gum(root, {"train": 4, "val": 2, "test": 3}, seed)


@dataclass
class World:
    """Good inputs every case starts from; a case breaks copies of them, never these."""

    tmp: Path
    data: Path
    other: Path  # the same kind of dataset, another seed: "the wrong dataset"
    recipe: Path
    run: Path
    pred: Path
    scored: Path  # predictions with metrics_savos.json
    files: dict[str, Path] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    tmp = tmp_path_factory.mktemp("bad")
    data, other = _dataset(tmp / "data", 0), _dataset(tmp / "other", 1)
    recipe = tmp / "tiny.yaml"
    recipe.write_text((RECIPES / "gum-tiny.yaml").read_text().replace("root: data/gum", f"root: {data}"))
    config = load_config(recipe, ["train.steps=2", "train.val_every=2"])
    train(config, tmp / "run", progress=False)
    pred = run_baseline("convex", data, "test", tmp / "pred", progress=False)
    scored = run_baseline("visible", data, "test", tmp / "scored", progress=False)
    assert CliRunner().invoke(savos_main, ["eval", str(scored), str(data), "-q"]).exit_code == 0
    return World(tmp, data, other, recipe, tmp / "run", pred, scored)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    return dst


def _edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _file(tmp: Path, name: str, data: bytes | str) -> Path:
    p = tmp / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def _user_folder(tmp: Path) -> Path:
    """A folder of the user's own files that look like ours (the issue's data-loss case)."""
    d = tmp / "mine"
    d.mkdir()
    for name, data in {"my_arrays.npz": b"PK\x03\x04", ".env": b"KEY=1", "metrics_notes.txt": b"n",
                       "config.yaml": b"mine: true\n", "index.md": b"# mine\n"}.items():
        (d / name).write_bytes(data)
    return d


# Each case: (id, build) where build(world, tmp) -> (cli, args, text the line must contain, inputs that
# must stay unchanged). cli is "gen" (savos-gen) or "savos".
def _dataset_json_case(change):
    def build(w: World, tmp: Path):
        d = _copy(w.data, tmp / "d")
        change(d / "dataset.json")
        return d
    return build


def _bad_dataset(kind: str):
    def change(path: Path):
        if kind == "truncated":
            _truncate(path)
        elif kind == "not-utf8":
            path.write_bytes(b"\xff\xfe" + path.read_bytes())
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "wrong-type":
            _edit_json(path, lambda d: d.update(splits=["train", "test"]))
        elif kind == "negative":
            _edit_json(path, lambda d: d["splits"]["test"].update(count=-3))
        elif kind == "lowered":
            _edit_json(path, lambda d: d["splits"]["test"].update(count=2))
        elif kind == "traversal":
            _edit_json(path, lambda d: d["splits"].update({"../other/test": d["splits"].pop("test")}))
        else:
            raise AssertionError(kind)
    return change


DATASET_DAMAGE = ["truncated", "not-utf8", "empty", "wrong-type", "negative", "lowered", "traversal"]
DAMAGE_TEXT = {"traversal": "../other/test"}


def _consumers(damage: str):
    """Every command that reads a dataset, on a damaged dataset.json."""
    change = _bad_dataset(damage)
    expect = DAMAGE_TEXT.get(damage, "dataset.json")

    def gen_verify(w, tmp):
        d = _dataset_json_case(change)(w, tmp)
        return "gen", ["verify", str(d), "-q"], expect, [d]

    def gen_preview(w, tmp):
        d = _dataset_json_case(change)(w, tmp)
        return "gen", ["preview", str(d), "--out", str(tmp / "p.gif")], expect, [d]

    def train_(w, tmp):
        d = _dataset_json_case(change)(w, tmp)
        return "savos", ["train", str(w.recipe), "--set", f"data.root={d}", "--out", str(tmp / "r"), "-q"], \
            expect, [d, w.recipe]

    def predict(w, tmp):
        d = _dataset_json_case(change)(w, tmp)
        return "savos", ["predict", str(w.run), str(d), "--out", str(tmp / "p"), "-q"], expect, [d, w.run]

    def eval_(w, tmp):
        d = _dataset_json_case(change)(w, tmp)
        p = _copy(w.pred, tmp / "pred")
        return "savos", ["eval", str(p), str(d), "-q"], expect, [d, p]

    def baseline(w, tmp):
        d = _dataset_json_case(change)(w, tmp)
        return "savos", ["baseline", "convex", str(d), "--out", str(tmp / "p"), "-q"], expect, [d]

    def report(w, tmp):
        d = _dataset_json_case(change)(w, tmp)
        p = _copy(w.pred, tmp / "pred")
        return "savos", ["report", str(p), "--data", str(d), "--out", str(tmp / "rep")], expect, [d, p]

    return [(f"{name}-dataset-{damage}", f) for name, f in
            [("verify", gen_verify), ("preview", gen_preview), ("train", train_), ("predict", predict),
             ("eval", eval_), ("baseline", baseline), ("report", report)]]


def _gen_config(text: bytes | str, expect: str):
    def build(w, tmp):
        cfg = _file(tmp, "gen.yaml", text)
        return "gen", ["chewing-gum", "--config", str(cfg), "--n", "10", "--out", str(tmp / "g"), "-q"], \
            expect, [cfg]
    return build


def _recipe(text: bytes | str, expect: str):
    def build(w, tmp):
        r = _file(tmp, "r.yaml", text)
        return "savos", ["train", str(r), "--out", str(tmp / "run"), "-q"], expect, [r]
    return build


def _train_set(override: str, expect: str):
    def build(w, tmp):
        return "savos", ["train", str(w.recipe), "--set", override, "--out", str(tmp / "run"), "-q"], \
            expect, [w.recipe, w.data]
    return build


def _under_a_file(cli_args):
    """An output path below a regular file."""
    def build(w, tmp):
        blocker = _file(tmp, "blocker", "x")
        out = blocker / "out"
        cli, args = cli_args(w, tmp, out)
        return cli, args, str(blocker), [blocker, w.data]
    return build


def _unwritable(cli_args):
    """An output no one can create (in /proc, which refuses new files even to root)."""
    def build(w, tmp):
        out = Path("/proc/savos-test-output")
        cli, args = cli_args(w, tmp, out)
        return cli, args, str(out), [w.data]
    return build


def _into_user_folder(cli_args):
    """--overwrite into a folder of the user's own files: refused, nothing deleted."""
    def build(w, tmp):
        mine = _user_folder(tmp)
        cli, args = cli_args(w, tmp, mine)
        return cli, args, str(mine), [mine, w.data]
    return build


OUTPUTS = {
    "chewing-gum": lambda w, tmp, out: ("gen", ["chewing-gum", "--n", "10", "--out", str(out), "-q"]),
    "preview": lambda w, tmp, out: ("gen", ["preview", str(w.data), "--out", str(out / "p.gif")]),
    "train": lambda w, tmp, out: ("savos", ["train", str(w.recipe), "--out", str(out), "-q"]),
    "predict": lambda w, tmp, out: ("savos", ["predict", str(w.run), str(w.data), "--out", str(out),
                                              "--overwrite", "-q"]),
    "baseline": lambda w, tmp, out: ("savos", ["baseline", "convex", str(w.data), "--out", str(out),
                                               "--overwrite", "-q"]),
    "eval": lambda w, tmp, out: ("savos", ["eval", str(_copy(w.pred, tmp / "pr")), str(w.data), "--out",
                                           str(out), "-q"]),
    "report": lambda w, tmp, out: ("savos", ["report", str(_copy(w.scored, tmp / "sc")), "--out", str(out),
                                             "--clips", "1"]),
    "adapt": lambda w, tmp, out: ("savos", ["adapt", str(w.run), str(w.data), "--out", str(out),
                                            "--overwrite", "--set", "adapt.max_iters=1", "-q"]),
}


def _adapt(*extra: str, expect: str):
    def build(w, tmp):
        return "savos", ["adapt", str(w.run), str(w.data), "--out", str(tmp / "a"), "-q", *extra], expect, \
            [w.run, w.data]
    return build


def _adapt_oracle(w, tmp):
    """A run of a supervised oracle: its loss reads the ground truth, so it cannot adapt at test time."""
    run = _copy(w.run, tmp / "oracle")
    for name in ("best.pt", "last.pt"):
        ckpt = torch.load(run / name, weights_only=True)
        ckpt["config"]["method"] = "oracle-savos"  # same network as savos, supervised loss
        torch.save(ckpt, run / name)
    return "savos", ["adapt", str(run), str(w.data), "--out", str(tmp / "a"), "-q"], "oracle-savos", [run]


def _prediction_file(damage: str):
    def build(w, tmp):
        p = _copy(w.pred, tmp / "pred")
        target = p / "predictions.json"
        if damage == "info-truncated":
            _truncate(target)
        elif damage == "info-not-utf8":
            target.write_bytes(b"\xff" + target.read_bytes())
        elif damage == "info-wrong-type":
            _edit_json(target, lambda d: d.update(num_clips="three"))
        elif damage == "info-empty":
            target.write_bytes(b"")
        elif damage == "npz-truncated":
            target = p / "clip_000007.npz"
            _truncate(target)
        else:
            raise AssertionError(damage)
        return "savos", ["eval", str(p), str(w.data), "-q"], target.name, [p, w.data]
    return build


def _checkpoint(damage: str):
    def build(w, tmp):
        run = _copy(w.run, tmp / "run")
        best = run / "best.pt"
        if damage == "truncated":
            _truncate(best)
        elif damage == "empty":
            best.write_bytes(b"")
        elif damage == "malicious":
            torch.save({"format": "savos-checkpoint", "evil": np.dtype}, best)  # a class: code to run
        return "savos", ["predict", str(run), str(w.data), "--out", str(tmp / "p"), "-q"], "best.pt", \
            [run, w.data]
    return build


def _run_summary(damage: str):
    def build(w, tmp):
        run = _copy(w.run, tmp / "run")
        target = run / "metrics.json"
        if damage == "truncated":
            _truncate(target)
        elif damage == "wrong-type":
            _edit_json(target, lambda d: d.update(history=[{"step": "two"}]))
        return "savos", ["report", str(run), "--out", str(tmp / "rep")], "metrics.json", [run]
    return build


def _cached_metrics(w, tmp):
    s = _copy(w.scored, tmp / "scored")
    _truncate(s / "metrics_savos.json")
    return "savos", ["report", str(s), "--out", str(tmp / "rep")], "metrics_savos.json", [s]


def _wrong_dataset(command: str):
    def build(w, tmp):
        p = _copy(w.scored, tmp / "scored")
        if command == "eval":
            return "savos", ["eval", str(p), str(w.other), "-q"], str(w.other), [p, w.other]
        return "savos", ["report", str(p), "--data", str(w.other), "--out", str(tmp / "rep")], str(w.other), \
            [p, w.other]
    return build


CASES = [
    # --- savos-gen chewing-gum ---
    ("gen-config-missing", lambda w, tmp: ("gen", ["chewing-gum", "--config", str(tmp / "nope.yaml"),
                                                   "--out", str(tmp / "g")], "nope.yaml", [])),
    ("gen-config-not-utf8", _gen_config(b"height: 3\xe9\n", "gen.yaml")),
    ("gen-config-truncated", _gen_config("height: [32, 4", "gen.yaml")),
    ("gen-config-wrong-type", _gen_config("height: big\n", "height")),
    ("gen-config-unknown-key", _gen_config("heigth: 32\n", "heigth")),
    ("gen-config-not-a-mapping", _gen_config("- 1\n- 2\n", "gen.yaml")),
    ("gen-n-absurd", lambda w, tmp: ("gen", ["chewing-gum", "--n", "99999999999999999999", "--out",
                                             str(tmp / "g")], "--n", [])),
    ("gen-n-empty", lambda w, tmp: ("gen", ["chewing-gum", "--n", "0", "--out", str(tmp / "g")], "--n", [])),
    ("gen-workers-zero", lambda w, tmp: ("gen", ["chewing-gum", "--workers", "0", "--out", str(tmp / "g")],
                                         "--workers", [])),
    ("gen-workers-negative", lambda w, tmp: ("gen", ["chewing-gum", "--workers", "-3", "--out",
                                                     str(tmp / "g")], "--workers", [])),
    ("gen-clip-absurd", lambda w, tmp: ("gen", ["chewing-gum", "--frames", "1000", "--height", "2048",
                                                "--width", "2048", "--out", str(tmp / "g")], "pixels", [])),
    ("gen-shard-bad", lambda w, tmp: ("gen", ["chewing-gum", "--shard", "5/2", "--out", str(tmp / "g")],
                                      "--shard", [])),
    ("gen-into-user-folder", _into_user_folder(OUTPUTS["chewing-gum"])),
    # --- savos-gen verify / preview ---
    ("verify-missing", lambda w, tmp: ("gen", ["verify", str(tmp / "nope")], "nope", [])),
    ("preview-clip-absurd", lambda w, tmp: ("gen", ["preview", str(w.data), "--clip", "99999", "--out",
                                                    str(tmp / "p.gif")], "--clip", [w.data])),
    ("preview-scale-absurd", lambda w, tmp: ("gen", ["preview", str(w.data), "--scale", "100000", "--out",
                                                     str(tmp / "p.gif")], "--scale", [w.data])),
    ("preview-split-traversal", lambda w, tmp: ("gen", ["preview", str(w.data), "--split", "../other/test",
                                                        "--out", str(tmp / "p.gif")], "../other/test",
                                                [w.data])),
    # --- savos train ---
    ("train-recipe-missing", lambda w, tmp: ("savos", ["train", str(tmp / "nope.yaml")], "nope.yaml", [])),
    ("train-recipe-not-utf8", _recipe(NOT_UTF8, "r.yaml")),
    ("train-recipe-truncated", _recipe("train:\n  lr: [1", "r.yaml")),
    ("train-recipe-wrong-type", _recipe("train:\n  lr: fast\n", "train.lr")),
    ("train-recipe-unknown-key", _recipe("train:\n  lrr: 0.1\n", "train.lrr")),
    ("train-recipe-empty", _recipe("", "data.root")),
    ("train-patch-absurd", _train_set("data.patch=100000", "data.patch")),
    ("train-patch-huge", _train_set("data.patch=2048", "data.patch")),
    ("train-lr-absurd", _train_set("train.lr=1e300", "train.lr")),
    ("train-workers-absurd", _train_set("data.workers=99999", "data.workers")),
    ("train-batch-absurd", _train_set("train.batch_size=10000000", "train.batch_size")),
    ("train-split-traversal", _train_set("data.train_split=../other/train", "../other/train")),
    ("train-root-missing", lambda w, tmp: ("savos", ["train", str(w.recipe), "--set",
                                                     f"data.root={tmp / 'nope'}", "--out", str(tmp / "r")],
                                           "nope", [w.recipe])),
    ("train-into-user-folder", _into_user_folder(OUTPUTS["train"])),
    # --- savos predict ---
    ("predict-run-missing", lambda w, tmp: ("savos", ["predict", str(tmp / "nope"), str(w.data), "--out",
                                                      str(tmp / "p")], "nope", [w.data])),
    ("predict-checkpoint-truncated", _checkpoint("truncated")),
    ("predict-checkpoint-empty", _checkpoint("empty")),
    ("predict-checkpoint-malicious", _checkpoint("malicious")),
    ("predict-split-traversal", lambda w, tmp: ("savos", ["predict", str(w.run), str(w.data), "--split",
                                                          "../other/test", "--out", str(tmp / "p")],
                                                "../other/test", [w.run, w.data])),
    ("predict-batch-absurd", lambda w, tmp: ("savos", ["predict", str(w.run), str(w.data), "--batch", "0",
                                                       "--out", str(tmp / "p")], "--batch", [w.run])),
    ("predict-into-user-folder", _into_user_folder(OUTPUTS["predict"])),
    # --- savos eval ---
    ("eval-pred-missing", lambda w, tmp: ("savos", ["eval", str(tmp / "nope"), str(w.data)], "nope", [])),
    ("eval-info-truncated", _prediction_file("info-truncated")),
    ("eval-info-not-utf8", _prediction_file("info-not-utf8")),
    ("eval-info-wrong-type", _prediction_file("info-wrong-type")),
    ("eval-info-empty", _prediction_file("info-empty")),
    ("eval-npz-truncated", _prediction_file("npz-truncated")),
    ("eval-wrong-dataset", _wrong_dataset("eval")),
    ("eval-wrong-split", lambda w, tmp: ("savos", ["eval", str(_copy(w.pred, tmp / "p")), str(w.data),
                                                   "--split", "val"], "split", [w.data])),
    # --- savos baseline ---
    ("baseline-data-missing", lambda w, tmp: ("savos", ["baseline", "convex", str(tmp / "nope"), "--out",
                                                        str(tmp / "p")], "nope", [])),
    ("baseline-split-traversal", lambda w, tmp: ("savos", ["baseline", "convex", str(w.data), "--split",
                                                           "../other/test", "--out", str(tmp / "p")],
                                                 "../other/test", [w.data])),
    ("baseline-into-user-folder", _into_user_folder(OUTPUTS["baseline"])),
    # --- savos report ---
    ("report-wrong-dataset", _wrong_dataset("report")),
    ("report-cached-metrics-truncated", _cached_metrics),
    ("report-run-summary-truncated", _run_summary("truncated")),
    ("report-run-summary-wrong-type", _run_summary("wrong-type")),
    ("report-input-missing", lambda w, tmp: ("savos", ["report", str(tmp / "nope"), "--out",
                                                       str(tmp / "rep")], "nope", [])),
    ("report-into-user-folder", _into_user_folder(OUTPUTS["report"])),
    # --- savos adapt ---
    ("adapt-run-missing", lambda w, tmp: ("savos", ["adapt", str(tmp / "nope"), str(w.data), "--out",
                                                    str(tmp / "a")], "nope", [])),
    ("adapt-oracle-run", _adapt_oracle),
    ("adapt-clips-absurd", _adapt("--clips", "99999", expect="--clips")),
    ("adapt-clips-garbage", _adapt("--clips", "1-x", expect="--clips")),
    ("adapt-set-not-adapt", _adapt("--set", "train.lr=0.1", expect="train.lr")),
    ("adapt-set-unknown", _adapt("--set", "adapt.lrr=0.1", expect="adapt.lrr")),
    ("adapt-lr-absurd", _adapt("--set", "adapt.lr=1e300", expect="adapt.lr")),
    ("adapt-workers-zero", _adapt("--workers", "0", expect="--workers")),
    ("adapt-split-traversal", _adapt("--split", "../other/test", expect="../other/test")),
    ("adapt-into-user-folder", _into_user_folder(OUTPUTS["adapt"])),
]
def _verify_damage(kind: str):
    """Damage only `savos-gen verify` can see (its report lists every problem, then FAILED)."""
    def build(w, tmp):
        d = _copy(w.data, tmp / "d")
        if kind == "split-deleted":
            _edit_json(d / "dataset.json", lambda doc: doc["splits"].pop("val"))
            expect = "split 'val'"
        elif kind == "config-invalid":
            _edit_json(d / "dataset.json", lambda doc: doc["config"].update(height=-32))
            expect = "height"
        else:
            shard = d / "test" / "shard-000000.tar"
            _truncate(shard)
            expect = str(shard)
        return "gen", ["verify", str(d), "-q"], expect, [d]
    return build


def _resume_on_other_data(w, tmp):
    run = _copy(w.run, tmp / "run")
    args = ["train", str(w.recipe), "--set", "train.steps=2", "--set", "train.val_every=2", "--set",
            f"data.root={w.other}", "--out", str(run), "--resume", "-q"]
    return "savos", args, str(w.other), [run, w.other]


CASES += [(f"verify-{kind}", _verify_damage(kind)) for kind in ("split-deleted", "config-invalid",
                                                                "shard-truncated")]
CASES += [("train-resume-other-dataset", _resume_on_other_data)]
CASES += [(f"{name}-output-under-a-file", _under_a_file(f)) for name, f in OUTPUTS.items()]
CASES += [(f"{name}-output-unwritable", _unwritable(f)) for name, f in OUTPUTS.items()]
for damage in DATASET_DAMAGE:
    CASES += _consumers(damage)


@pytest.mark.parametrize("build", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(world, tmp_path, build, monkeypatch):
    monkeypatch.chdir(tmp_path)  # defaults such as data/gum and runs/<recipe> resolve in an empty folder
    cli, args, expect, inputs = build(world, tmp_path)
    before = {p: _digest(p) for p in inputs}
    result = CliRunner().invoke(gen_main if cli == "gen" else savos_main, args)
    assert result.exit_code != 0, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"uncaught {type(result.exception).__name__}: {result.exception}"
    # Notes ("note: training on the CPU") are information, not part of the error.
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")]
    problems = [ln for ln in lines if ln.startswith(("error:", "problem:"))]
    assert "Traceback" not in result.output and problems, result.output
    if args[0] == "verify":  # verify lists every problem it found, then a verdict
        assert lines[-1].startswith("FAILED") or len(lines) == 1, result.stderr
    else:
        assert len(lines) == 1, result.stderr
    assert expect in result.stderr, result.stderr
    assert "weights_only=False" not in result.stderr
    for p, digest in before.items():
        assert _digest(p) == digest, f"{p} was changed"


# ---- property tests: whatever bytes a description file holds, its reader answers in one line ----------


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False)
                     | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=4),
                     max_leaves=12)


def _mutations(doc: dict) -> st.SearchStrategy:
    """Documents that differ from a good ``doc`` in one field, at any depth, by any JSON value."""
    def paths(x, prefix=()):
        yield prefix
        if isinstance(x, dict):
            for k, v in x.items():
                yield from paths(v, (*prefix, k))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                yield from paths(v, (*prefix, i))

    def put(path, value):
        new = json.loads(json.dumps(doc))
        node = new
        for part in path[:-1]:
            node = node[part]
        if path:
            node[path[-1]] = value
            return new
        return value

    return st.builds(put, st.sampled_from(list(paths(doc))), _JSON)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_dataset_description_is_read_or_refused_in_one_line(world, tmp_path_factory, data):
    good = json.loads((world.data / "dataset.json").read_text())
    root = tmp_path_factory.mktemp("prop")
    shutil.copytree(world.data, root / "d")
    doc = data.draw(st.one_of(_mutations(good), st.binary(max_size=64)))
    path = root / "d" / "dataset.json"
    path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
    try:
        read_info(root / "d")
    except SavosError as e:
        assert "\n" not in str(e) and "dataset.json" in str(e)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_prediction_description_is_read_or_refused_in_one_line(world, tmp_path_factory, data):
    good = json.loads((world.pred / "predictions.json").read_text())
    root = tmp_path_factory.mktemp("prop") / "p"
    shutil.copytree(world.pred, root)
    doc = data.draw(st.one_of(_mutations(good), st.binary(max_size=64)))
    (root / "predictions.json").write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
    try:
        open_predictions(root)
    except SavosError as e:
        assert "\n" not in str(e) and "predictions.json" in str(e)
