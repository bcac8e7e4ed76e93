"""Values are checked where they are read, before anything is built from them:

- dataset.json: every field has its type, and counts lie within the bounds of savos.limits, so a split
  count of 10**9 costs one line in every command that reads a dataset, not a run until killed;
- flow: an imported ``.flo`` holding NaN, inf or the Middlebury "unknown" marker (1e9) is refused naming
  the file, no writer stores non-finite flow, and `savos-gen verify` reports stored flow that is;
- ids read from annotation files (KITTI-MOTS, FISHBOWL) are integers in [0, 2**31), named by file and line.

Command cases assert a non-zero exit, one ``error:`` line naming the input, no traceback, and the input
folder byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tiny import tree_digest as _digest

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.cli.gen import main as gen_main
from savos.cli.main import main as savos_main
from savos.config import load_config
from savos.data import clip as clip_module
from savos.data import codec, open_dataset, read_info
from savos.data.clip import MAX_FLOW_PX, ClipError, flow_problem
from savos.data.verify import verify_dataset
from savos.data.writer import write_dataset
from savos.errors import SavosError
from savos.evaluation.baselines import run_baseline
from savos.limits import MAX_CLIPS
from savos.training.train import train

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
TINY = {"height": 32, "width": 32, "frames": 8, "radius": [5.0, 7.0]}


def _write_gum(root: Path, splits=None) -> Path:
    config = ChewingGumConfig.from_dict(TINY)
    write_dataset(root, partial(generate_clip, config, 0), splits or {"train": 4, "val": 2, "test": 3},
                  {"generator": "chewing-gum", "version": "test", "seed": 0, "config": config.to_dict(),
                   "amodal_flow": True}, shard_size=2, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bounds")
    data = _write_gum(tmp / "data")
    recipe = tmp / "tiny.yaml"
    recipe.write_text((RECIPES / "gum-tiny.yaml").read_text().replace("root: data/gum", f"root: {data}"))
    train(load_config(recipe, ["train.steps=2", "train.val_every=2"]), tmp / "run", progress=False)
    pred = run_baseline("convex", data, "test", tmp / "pred", progress=False)
    return {"data": data, "recipe": recipe, "run": tmp / "run", "pred": pred}


def _one_line(cli, args, expect: str, unchanged=()):
    before = {p: _digest(p) for p in unchanged}
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code != 0, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"uncaught {type(result.exception).__name__}: {result.exception}"
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert expect in lines[0], lines[0]
    for p, digest in before.items():
        assert _digest(p) == digest, f"{p} was changed"
    return lines[0]


# ---- dataset.json ----------------------------------------------------------------------------------

def _huge_split(doc):
    sp = doc["splits"]["test"]
    sp["count"] = 10**9
    sp["shards"] = [{**sp["shards"][0], "count": 10**9}]


def _many_splits(doc):  # each split within the bound, together far above it
    for i in range(3):
        doc["splits"][f"extra{i}"] = {"count": MAX_CLIPS, "first_index": 0, "shards": []}


DAMAGE = {  # name -> (change of dataset.json, text the line must hold)
    "split-count-1e9": (_huge_split, "at most 10,000,000"),
    "splits-over-the-bound": (_many_splits, "more than 10,000,000"),
    "shard-over-shard-size": (lambda d: d.update(shard_size=1), "'count' must be at most 1"),
    "shard-size-string": (lambda d: d.update(shard_size="100"), "'shard_size'"),
    "seed-list": (lambda d: d.update(seed=[0]), "'seed'"),
    "config-string": (lambda d: d.update(config="height: 32"), "'config'"),
    "split-counts-string": (lambda d: d["split_counts"].update(test="3"), "split_counts"),
    "sha256-number": (lambda d: d["splits"]["test"]["shards"][0].update(sha256=5), "'sha256'"),
    "amodal-flow-string": (lambda d: d.update(amodal_flow="yes"), "'amodal_flow'"),
}


def _damaged(world, tmp: Path, damage: str) -> Path:
    d = tmp / "d"
    shutil.copytree(world["data"], d)
    doc = json.loads((d / "dataset.json").read_text())
    DAMAGE[damage][0](doc)
    (d / "dataset.json").write_text(json.dumps(doc))
    return d


COMMANDS = {  # every command that reads a dataset: (cli, args of a damaged dataset d)
    "verify": lambda w, d, tmp: (gen_main, ["verify", d, "-q", "--workers", "1"]),
    "preview": lambda w, d, tmp: (gen_main, ["preview", d, "--out", tmp / "p.gif"]),
    "train": lambda w, d, tmp: (savos_main, ["train", w["recipe"], "--set", f"data.root={d}", "--out",
                                             tmp / "r", "-q"]),
    "predict": lambda w, d, tmp: (savos_main, ["predict", w["run"], d, "--out", tmp / "p", "-q"]),
    "baseline": lambda w, d, tmp: (savos_main, ["baseline", "convex", d, "--out", tmp / "p", "-q"]),
    "eval": lambda w, d, tmp: (savos_main, ["eval", w["pred"], d, "--out", tmp / "e", "-q"]),
    "report": lambda w, d, tmp: (savos_main, ["report", w["pred"], "--data", d, "--out", tmp / "rep"]),
    "adapt": lambda w, d, tmp: (savos_main, ["adapt", w["run"], d, "--out", tmp / "a", "-q"]),
}
COMMAND_CASES = [(c, dmg) for c in COMMANDS for dmg in ("split-count-1e9", "shard-size-string", "seed-list")]


@pytest.mark.parametrize("command,damage", COMMAND_CASES, ids=[f"{c}-{d}" for c, d in COMMAND_CASES])
def test_every_dataset_reader_refuses_bad_fields_before_allocating(world, tmp_path, command, damage):
    d = _damaged(world, tmp_path, damage)
    cli, args = COMMANDS[command](world, d, tmp_path)
    line = _one_line(cli, args, "dataset.json", [d, world["run"], world["pred"]])
    assert DAMAGE[damage][1] in line


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_read_info_names_the_field(world, tmp_path, damage):
    d = _damaged(world, tmp_path, damage)
    with pytest.raises(SavosError, match=r"dataset\.json: ") as e:
        read_info(d)
    assert DAMAGE[damage][1] in str(e.value) and "\n" not in str(e.value)


WRONG = ["x", [], {}, None, True, -1, 10**12, 1.5]


def _paths(x, prefix=()):
    yield prefix
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _paths(v, (*prefix, i))


def test_any_wrong_value_in_any_field_is_read_or_refused_in_one_line(tmp_path):
    """Every field at any depth set to each of WRONG: read_info refuses it in one line, or accepts it; for
    the first value each field accepts, verify then answers with problems or one line, never a traceback."""
    d = _write_gum(tmp_path / "d", {"train": 1, "test": 1})
    good = json.loads((d / "dataset.json").read_text())
    verified = set()
    for path in [p for p in _paths(good) if p]:
        for value in WRONG:
            doc = json.loads(json.dumps(good))
            node = doc
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
            (d / "dataset.json").write_text(json.dumps(doc))
            try:
                read_info(d)
            except SavosError as e:
                assert "\n" not in str(e) and "dataset.json" in str(e), str(e)
                continue
            assert path != ("schema",), value  # true == 1 in Python, but not a schema number
            if path not in verified:
                verified.add(path)
                try:
                    verify_dataset(d, workers=1, progress=False)
                except SavosError as e:
                    assert "\n" not in str(e)
    assert verified  # e.g. a config value, which verify then reports


# ---- flow ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,expect", [(np.nan, "not finite"), (np.inf, "not finite"),
                                          (-np.inf, "not finite"), (1e9, "1e9 marks unknown"),
                                          (2e5, ">= 131072")])
def test_flow_problem_names_what_and_where(value, expect):
    flow = np.zeros((3, 4, 5, 2), np.float32)
    assert flow_problem(flow) is None
    flow[1, 2, 3, 1] = value
    flow[2, 0, 0, 0] = value
    problem = flow_problem(flow)
    assert expect in problem and "2 flow values" in problem and "pixel (1, 2, 3)" in problem
    flow[:] = MAX_FLOW_PX - 1
    assert flow_problem(flow) is None


def test_no_writer_stores_non_finite_flow():
    clip = generate_clip(ChewingGumConfig.from_dict(TINY), 0, 0, "train")
    clip.flow_fwd[0, 5, 5] = (np.nan, 1.0)
    with pytest.raises(ClipError, match="flow_fwd: 1 flow values are not finite"):
        codec.encode_clip(clip)
    with pytest.raises(ClipError, match="not finite"):  # unvalidated clips (valid by construction) too
        codec.encode_clip(clip, validate=False)
    with pytest.raises(ClipError, match="131072"):
        codec.quantize_flow(np.full((2, 3, 2), 1e9, np.float32))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # the NaN, stored on purpose
def test_verify_and_readers_refuse_stored_absurd_flow(tmp_path, monkeypatch):
    """A shard whose flow decodes to values no writer stores (written here with the checks switched off,
    as a writer without them stored NaN: INT32_MIN / 64 = -3.4e7 px) fails verify and every read."""
    def nan_flow(index, split):
        clip = generate_clip(ChewingGumConfig.from_dict(TINY), 0, index, split)
        if index == 1:
            clip.flow_fwd[2, 4, 4, 0] = np.nan
        return clip

    with monkeypatch.context() as m:
        m.setattr(clip_module, "flow_problem", lambda f: None)
        m.setattr(codec, "flow_problem", lambda f: None)
        config = ChewingGumConfig.from_dict(TINY)
        write_dataset(tmp_path / "d", nan_flow, {"train": 2}, {"generator": "chewing-gum", "version": "t",
                      "seed": 0, "config": config.to_dict(), "amodal_flow": True}, shard_size=2, workers=1,
                      progress=False)
    report = verify_dataset(tmp_path / "d", workers=1, progress=False)
    assert any("clip_000001: flow_fwd: " in p and ">= 131072" in p for p in report["problems"]), \
        report["problems"]
    with pytest.raises(SavosError, match=r"clip_000001: flow_fwd: .*regenerate this shard"):
        open_dataset(tmp_path / "d", "train")[1]
    _one_line(gen_main, ["preview", tmp_path / "d", "--split", "train", "--clip", "1", "--out",
                         tmp_path / "p.gif"], "flow_fwd")


@pytest.mark.parametrize("value,expect", [(np.nan, "not finite"), (np.inf, "not finite"),
                                          (1e9, "unknown"), (1.5e9, "unknown")])
def test_an_imported_flo_file_with_bad_values_is_named(tmp_path, value, expect):
    pytest.importorskip("cv2")
    pytest.importorskip("pycocotools")
    from savos.data.importers.samples import make_fishbowl_raw, write_flo

    src = tmp_path / "src"
    make_fishbowl_raw(src, videos=1)
    for name in ("train_flow", "train_flow_reverse"):
        folder = src / name / "inference/run.epoch-0-flow-field" / "00000"
        folder.mkdir(parents=True)
        for t in range(3):
            write_flo(folder / f"{t:06d}.flo", np.ones((24, 32, 2), np.float32))
    bad = src / "train_flow/inference/run.epoch-0-flow-field/00000/000001.flo"
    flow = np.ones((24, 32, 2), np.float32)
    flow[7, 9, 0] = value
    write_flo(bad, flow)
    line = _one_line(gen_main, ["import", "fishbowl", src, "--out", tmp_path / "ds", "-q", "--workers", "1"],
                     str(bad), [src])
    assert expect in line and "pixel (7, 9)" in line


# ---- ids in annotation files ----------------------------------------------------------------------

@pytest.mark.parametrize("value", [str(2**64), str(2**63 - 1), "-5"])
def test_a_mots_id_outside_32_bits_is_named_by_file_and_line(tmp_path, value):
    pytest.importorskip("cv2")
    pytest.importorskip("pycocotools")
    from savos.data.importers.samples import make_kins_video_car

    make_kins_video_car(tmp_path)
    tracks = tmp_path / "tracks" / "2011_09_26_drive_0001_sync.txt"
    lines = tracks.read_text().splitlines()
    parts = lines[2].split(" ")
    parts[1] = value
    lines[2] = " ".join(parts)
    tracks.write_text("\n".join(lines) + "\n")
    line = _one_line(gen_main, ["import", "kins-video-car", "--kins", tmp_path / "kins", "--kitti-raw",
                                tmp_path / "raw", "--tracks", tmp_path / "tracks", "--out", tmp_path / "ds",
                                "-q", "--workers", "1"], f"{tracks}:3: obj_id", [tmp_path / "tracks"])
    assert value in line


@pytest.mark.parametrize("value", [2**64, "../../x", 1.5])
def test_a_fishbowl_object_id_that_is_not_a_small_integer_is_named(tmp_path, value):
    pytest.importorskip("cv2")
    pytest.importorskip("pycocotools")
    from savos.data.importers.samples import make_fishbowl_raw

    make_fishbowl_raw(tmp_path / "src", videos=1)
    path = tmp_path / "src" / "train_data" / "train" / "00000" / "objects.json"
    objects = json.loads(path.read_text())
    objects[0]["id"] = value
    path.write_text(json.dumps(objects))
    _one_line(gen_main, ["import", "fishbowl", tmp_path / "src", "--out", tmp_path / "ds", "-q", "--workers",
                         "1"], f"{path}: object 0: id must be an integer", [tmp_path / "src"])
