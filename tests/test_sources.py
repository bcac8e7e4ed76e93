"""Training data sources (savos/training/sources.py): streamed generator configs, curricula (manifest,
level order, schedule), the fixed val split generated once, determinism and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from generators.scenes.curriculum import load_curriculum, read_manifest
from savos.cli.gen import main as gen_main
from savos.config import load_config
from savos.errors import SavosError
from savos.training import sources
from savos.training.batches import StepBatches
from savos.training.checkpoint import load_checkpoint
from savos.training.train import train

TINY = Path(__file__).parent.parent / "recipes" / "gum-tiny.yaml"
SCENE = {"frame": {"height": 32, "width": 32, "frames": 6}, "targets": {"size": [5.0, 7.0]},
         "occluders": {"size": [5.0, 7.0]}}


@pytest.fixture(scope="module")
def scene_yaml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scene") / "tiny-scene.yaml"
    path.write_text(json.dumps(SCENE))
    return path


@pytest.fixture(scope="module")
def curriculum_yaml(scene_yaml) -> Path:
    path = scene_yaml.parent / "tiny-curriculum.yaml"
    path.write_text(json.dumps({"base": scene_yaml.name, "levels": [
        {"name": "easy", "set": {"targets": {"count": [1, 1]}, "occlusion": {"rate": [0.03, 0.6]}}},
        {"name": "hard", "set": {"targets": {"count": [2, 2], "families": ["ellipse", "star"]}}}]}))
    return path


def _batches(root: str, steps, rank=0, world=1, level_steps=(), total=4):
    source = sources.resolve(root, "", 0)
    starts = sources.level_starts(len(source.levels), level_steps, total)
    data = StepBatches(source, "train", 16, 1.5, 4, 2, 0, rank, world, starts=starts)
    return [data[s] for s in steps], data


def _same(a, b) -> bool:
    return all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("rgb", "visible", "flow_fwd", "amodal"))


def test_stream_is_deterministic_and_never_repeats(scene_yaml):
    (a0, a1), _ = _batches(str(scene_yaml), [0, 1])
    (b0, b1), _ = _batches(str(scene_yaml), [0, 1])
    assert _same(a0, b0) and _same(a1, b1)  # same seed and step: same batch
    assert not _same(a0, a1)
    keys = set()
    for step in range(3):
        for rank in range(2):
            (batch,), _ = _batches(str(scene_yaml), [step], rank, 2)
            keys.update(batch.keys)
    assert len(keys) == 3 * 2 * 2  # every track of every step and rank from its own clip
    assert all(int(k.split("_")[1]) >= sources.STREAM_OFFSET for k in keys)  # apart from val clips


def test_curriculum_manifest_and_level_order(curriculum_yaml, tmp_path):
    levels = load_curriculum(curriculum_yaml)
    assert [lv.name for lv in levels] == ["easy", "hard"]
    assert levels[0].config.targets.count == (1, 1)
    assert levels[1].config.targets.families == ("ellipse", "star")
    assert levels[1].config.frame.height == 32  # the base's value
    out = tmp_path / "cur"
    result = CliRunner().invoke(gen_main, ["curriculum", str(curriculum_yaml), "--out", str(out), "--n", "3",
                                           "--val", "1", "--test", "0", "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    assert [lv["name"] for lv in manifest["levels"]] == ["easy", "hard"]
    assert [lv["seed"] for lv in manifest["levels"]] == [0, 1]
    for level in manifest["levels"]:
        info = json.loads((Path(level["root"]) / "dataset.json").read_text())
        assert info["config"] == level["config"] and info["seed"] == level["seed"]
    # the schedule: steps 0-1 from level 0, then level 1 (disk and stream alike)
    for root in (str(out), str(curriculum_yaml)):
        batches, data = _batches(root, [0, 1, 2, 3], level_steps=(2,))
        assert [data.level(s) for s in range(4)] == [0, 0, 1, 1]
        assert sources.resolve(root, "", 0).kind in ("curriculum", "stream")
    assert sources.level_starts(3, (), 9) == [0, 3, 6]
    with pytest.raises(SavosError, match="level_steps"):
        sources.level_starts(3, (1, 2, 3, 4), 9)


def test_bad_curriculum_is_one_line(tmp_path, scene_yaml):
    path = tmp_path / "bad.yaml"
    levels = [{"name": "a", "set": {"frame": {"hieght": 3}}}]
    path.write_text(json.dumps({"base": str(scene_yaml), "levels": levels}))
    with pytest.raises(SavosError, match=r"levels\[0\] \(a\): frame.hieght: unknown key"):
        load_curriculum(path)


def test_stream_training_generates_val_once_and_resumes(scene_yaml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(TINY, [f"data.root={scene_yaml}", "train.threads=1", "data.val_clips=2",
                                "data.window=4"])
    full = train(config, tmp_path / "full", progress=False)
    val = tmp_path / "data" / "tiny-scene-val"
    info = json.loads((val / "dataset.json").read_text())
    assert info["generator"] == "scene" and info["splits"]["val"]["count"] == 2
    stamp = (val / "dataset.json").stat().st_mtime_ns
    half = train(config, tmp_path / "resumed", stop_after=3, progress=False)
    assert half["step"] == 3 and (val / "dataset.json").stat().st_mtime_ns == stamp  # not made again
    again = train(config, tmp_path / "resumed", resume=True, progress=False)
    assert again["history"] == full["history"]
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_missing_source_names_the_key(tmp_path):
    config = load_config(TINY, [f"data.root={tmp_path / 'nothing'}"])
    with pytest.raises(SavosError, match="data.root: no dataset at"):
        train(config, tmp_path / "run", progress=False)


def test_curriculum_advances_on_plateau_and_resumes(curriculum_yaml, tmp_path, monkeypatch):
    """With a learning rate too small to move the weights, the val loss cannot improve: after two
    validations of a level (plateau 1) the next level begins; a resumed run takes the same path."""
    monkeypatch.chdir(tmp_path)
    config = load_config(TINY, [f"data.root={curriculum_yaml}", "train.threads=1", "data.val_clips=1",
                                "data.window=4", "data.plateau=1", "train.val_every=1", "train.lr=1e-30",
                                "train.steps=5"])
    full = train(config, tmp_path / "full", progress=False)
    assert [h["level"] for h in full["history"]] == [0, 0, 1, 1, 1]
    assert load_checkpoint(tmp_path / "full" / "last.pt")["level_starts"] == [0, 2]
    train(config, tmp_path / "resumed", stop_after=2, progress=False)
    again = train(config, tmp_path / "resumed", resume=True, progress=False)
    assert again["history"] == full["history"]


def _ddp_levels_worker(rank: int, world: int, port: int, config_dict: dict, out: str) -> None:
    """Train under DDP, recording each rank's curriculum level starts after every validation."""
    import os

    from savos.config import config_from_dict

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    os.chdir(out)
    torch.set_num_threads(1)
    original = sources.sync_levels

    def record(d, starts):
        original(d, starts)
        with open(Path(out) / f"levels-{rank}.jsonl", "a") as f:
            f.write(json.dumps(starts) + "\n")

    sources.sync_levels = record
    train(config_from_dict(config_dict), Path(out) / "run", progress=False)


def test_ddp_ranks_share_plateau_levels(curriculum_yaml, tmp_path):
    import socket

    import torch.multiprocessing as mp

    from savos.config import config_to_dict

    config = load_config(TINY, [f"data.root={curriculum_yaml}", "train.threads=1", "data.val_clips=1",
                                "data.window=4", "data.plateau=1", "train.val_every=1", "train.lr=1e-30",
                                "train.steps=4", "train.batch_size=1"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_ddp_levels_worker, args=(2, port, config_to_dict(config), str(tmp_path)), nprocs=2,
                       join=True, start_method="spawn")
    logs = [(tmp_path / f"levels-{r}.jsonl").read_text().splitlines() for r in range(2)]
    assert logs[0] == logs[1] and json.loads(logs[0][-1]) == [0, 2]  # rank 1 learned rank 0's decision
