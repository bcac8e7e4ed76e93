"""`savos-gen` end to end on tiny sets: generate, verify, tamper, preview, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from savos.cli.gen import main
from savos.data import open_dataset
from savos.data.codec import encode_clip
from savos.data.shards import ShardReader, write_shard

TINY = ["--n", "6", "--val", "2", "--test", "2", "--shard-size", "2", "-q"]


def _run(args, code=0):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    return result


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "gum"
    _run(["chewing-gum", *TINY, "--out", str(out), "--workers", "1"])
    return out


def test_generate_then_verify(tiny):
    info = json.loads((tiny / "dataset.json").read_text())
    assert info["generator"] == "chewing-gum" and info["seed"] == 0
    assert {k: v["count"] for k, v in info["splits"].items()} == {"train": 2, "val": 2, "test": 2}
    clip = open_dataset(tiny, "test")[0]
    assert clip.meta["config"] == info["config"] and clip.meta["index"] == 4
    result = _run(["verify", str(tiny), "--workers", "1", "-q"])
    assert "OK" in result.output and "occlusion rate" in result.output
    assert "inside hull of visible" in result.output and "visible at t+-1" in result.output
    report = json.loads(_run(["verify", str(tiny), "--workers", "1", "-q", "--json"]).output)
    g = report["stats"]["guessability"]
    assert g["object_frames"] == 2 * 16 * 6 and 0.0 < g["all"]["hull_share"] < 1.0
    assert g["all"]["reach_share"]["1"] <= g["all"]["reach_share"]["2"] <= g["all"]["reach_share"]["any"]


def test_parallel_and_sharded_cli_runs_match(tiny, tmp_path):
    _run(["chewing-gum", *TINY, "--out", str(tmp_path / "par"), "--workers", "2"])
    _run(["chewing-gum", *TINY, "--out", str(tmp_path / "sh"), "--workers", "1", "--shard", "1/2"])
    _run(["chewing-gum", *TINY, "--out", str(tmp_path / "sh"), "--workers", "1", "--shard", "0/2"])
    assert _digests(tiny) == _digests(tmp_path / "par") == _digests(tmp_path / "sh")


def test_rerun_of_finished_dataset_is_a_no_op(tiny):
    before = _digests(tiny)
    _run(["chewing-gum", *TINY, "--out", str(tiny), "--workers", "1"])
    assert _digests(tiny) == before


def test_verify_fails_on_corrupted_bytes(tiny, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny, bad)
    shard = bad / "val" / "shard-000000.tar"
    data = bytearray(shard.read_bytes())
    data[1500] ^= 0x01
    shard.write_bytes(bytes(data))
    result = _run(["verify", str(bad), "--workers", "1", "-q"], code=1)
    assert "val/shard-000000.tar" in result.output and "FAILED" in result.output


def test_verify_fails_on_tampered_ground_truth_with_valid_checksum(tiny, tmp_path):
    """Re-encode a clip whose amodal mask lost a pixel: checksums agree, the geometry check must not."""
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny, bad)
    shard = bad / "train" / "shard-000000.tar"
    clips = open_dataset(bad, "train")
    first, second = clips[0], clips[1]
    t, k = 3, first.target_ids()[0]
    hidden = first.amodal[t, k] & (first.visible[t] != k + 1)  # an occluded pixel: visible stays valid
    r, c = np.argwhere(hidden)[0]
    first.amodal[t, k, r, c] = False
    digest, _ = write_shard(shard, [(first.key, encode_clip(first)), (second.key, encode_clip(second))])
    info = json.loads((bad / "dataset.json").read_text())
    info["splits"]["train"]["shards"][0]["sha256"] = digest
    (bad / "dataset.json").write_text(json.dumps(info))
    assert ShardReader(shard, digest).keys() == [first.key, second.key]
    result = _run(["verify", str(bad), "--workers", "1", "-q"], code=1)
    assert first.key in result.output and "FAILED" in result.output


def test_preview_gif(tiny, tmp_path):
    from PIL import Image

    out = tmp_path / "p.gif"
    _run(["preview", str(tiny), "--split", "val", "--clip", "1", "--out", str(out), "--scale", "2"])
    clip = open_dataset(tiny, "val")[1]
    with Image.open(out) as im:
        assert im.n_frames == clip.num_frames
        H, W = clip.size
        assert im.size == (4 * W * 2, H * 2)


def test_user_errors_are_one_line(tiny, tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("height: 64\nwobble: 3\n")
    r = _run(["chewing-gum", "--n", "4", "--out", str(tmp_path / "x"), "--config", str(bad_yaml)], code=2)
    assert "wobble" in r.output and r.output.count("\n") == 1 and "Traceback" not in r.output
    assert str(bad_yaml) in r.output
    bad_yaml.write_text("arms: [2, 1]\n")  # a later option: checked like the others
    r = _run(["chewing-gum", "--n", "4", "--out", str(tmp_path / "x"), "--config", str(bad_yaml)], code=2)
    assert r.output.startswith(f"error: {bad_yaml}: ") and "arms" in r.output and r.output.count("\n") == 1
    r = _run(["chewing-gum", *TINY, "--out", str(tiny), "--seed", "7"], code=2)
    assert "other settings" in r.output
    r = _run(["verify", str(tmp_path / "missing")], code=2)
    assert "savos-gen chewing-gum" in r.output
    r = _run(["preview", str(tiny), "--clip", "99", "--out", str(tmp_path / "p.gif")], code=2)
    assert "--clip 99" in r.output
    r = _run(["chewing-gum", "--n", "4", "--out", str(tmp_path / "y"), "--shard", "3"], code=2)
    assert "--shard" in r.output
