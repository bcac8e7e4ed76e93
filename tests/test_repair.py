"""Repair that repairs: the same savos-gen command, or ``savos-gen verify --repair``, makes every shard
that is missing or fails its checksum again, with the original bytes; a resumed ``--shard i/n`` records
only checksums it checked; what cannot be repaired is one line, with the file left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from savos.cli.gen import main as gen_main
from savos.data.writer import SUMS

SCENES = Path(__file__).resolve().parent.parent / "recipes" / "scenes"
GUM = ["chewing-gum", "--n", "6", "--val", "1", "--test", "1", "--height", "32", "--width", "32",
       "--frames", "4", "--shard-size", "1", "--workers", "1", "-q"]


def _gen(*args: str):
    return CliRunner().invoke(gen_main, list(args))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[700] ^= 0xFF  # inside the first member's data: the tar still reads, the checksum fails
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repair") / "gum"
    assert _gen(*GUM, "--out", str(root)).exit_code == 0
    return root


def _damaged(original: Path, tmp_path: Path) -> Path:
    root = shutil.copytree(original, tmp_path / "gum")
    _corrupt(root / "train" / "shard-000001.tar")
    (root / "train" / "shard-000002.tar").unlink()
    shutil.rmtree(root / "test")  # a whole split's folder
    return root


def test_the_same_command_repairs_missing_and_corrupt_shards(original, tmp_path):
    root = _damaged(original, tmp_path)
    result = _gen(*GUM, "--out", str(root))
    assert result.exit_code == 0, result.output
    assert "shard-000001.tar: fails its checksum" in result.output
    assert "shard-000002.tar: missing" in result.output
    assert _files(root) == _files(original)


def test_verify_repair_makes_the_original_bytes_then_verify_passes(original, tmp_path):
    root = _damaged(original, tmp_path)
    assert _gen("verify", str(root), "-q").exit_code == 1
    result = _gen("verify", str(root), "--repair", "-q")
    assert result.exit_code == 0 and "repaired 3 shard(s)" in result.output, result.output
    assert _files(root) == _files(original)
    assert _gen("verify", str(root), "--repair", "-q").output.count("repaired 0 shard(s)") == 1


def test_verify_repair_of_a_scene_dataset(tmp_path):
    root = tmp_path / "shapes"
    args = ["scene", str(SCENES / "shapes.yaml"), "--n", "3", "--val", "1", "--test", "1", "--workers", "1",
            "-q", "--out", str(root)]
    assert _gen(*args).exit_code == 0
    good = _files(root)
    _corrupt(root / "test" / "shard-000000.tar")
    assert _gen("verify", str(root), "--repair", "-q").exit_code == 0
    assert _files(root) == good


def test_a_shard_that_cannot_be_made_again_is_one_line_and_left_alone(original, tmp_path):
    root = shutil.copytree(original, tmp_path / "gum")
    info = json.loads((root / "dataset.json").read_text())
    info["config"]["num_occluders"] += 1  # dataset.json now describes other clips
    (root / "dataset.json").write_text(json.dumps(info))
    _corrupt(root / "val" / "shard-000000.tar")
    corrupt = (root / "val" / "shard-000000.tar").read_bytes()
    result = _gen("verify", str(root), "--repair", "-q")
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "Traceback" not in result.output
    assert "val/shard-000000.tar: made again from the recorded settings, it does not match" in errors[0]
    assert (root / "val" / "shard-000000.tar").read_bytes() == corrupt


def test_an_imported_dataset_names_its_import_command(original, tmp_path):
    root = shutil.copytree(original, tmp_path / "gum")
    info = json.loads((root / "dataset.json").read_text())
    info["generator"] = "import-video"
    (root / "dataset.json").write_text(json.dumps(info))
    result = _gen("verify", str(root), "--repair", "-q")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "cannot be made again from dataset.json alone" in result.output
    assert "savos-gen import video" in result.output


def test_a_resumed_slice_never_records_a_shard_it_did_not_check(original, tmp_path):
    root = tmp_path / "sliced"
    assert _gen(*GUM, "--out", str(root), "--shard", "0/2").exit_code == 0
    _corrupt(root / "train" / "shard-000000.tar")  # a finished shard of slice 0, corrupted since
    result = _gen(*GUM, "--out", str(root), "--shard", "1/2")  # finishes the dataset
    assert result.exit_code == 0, result.output
    assert "shard-000000.tar: does not match the checksum recorded" in result.output
    assert _files(root) == _files(original)  # dataset.json and every shard as an unbroken run
    assert not (root / SUMS).exists()


def test_a_shard_whose_checksum_was_never_recorded_is_made_again(original, tmp_path):
    root = tmp_path / "sliced"
    assert _gen(*GUM, "--out", str(root), "--shard", "0/2").exit_code == 0
    _corrupt(root / "train" / "shard-000002.tar")
    (root / SUMS / "train" / "shard-000002.tar.sha256").unlink()  # its run was killed before recording it
    result = _gen(*GUM, "--out", str(root), "--shard", "1/2")
    assert result.exit_code == 0 and "dataset.json is written by the run that finishes" in result.output
    assert not (root / "dataset.json").exists()  # slice 0 is not finished: nothing unchecked is recorded
    assert _gen(*GUM, "--out", str(root), "--shard", "0/2").exit_code == 0
    assert _files(root) == _files(original)


def test_a_resumed_slice_remakes_its_own_corrupt_shards(original, tmp_path):
    root = tmp_path / "sliced"
    assert _gen(*GUM, "--out", str(root), "--shard", "1/2").exit_code == 0
    _corrupt(root / "train" / "shard-000001.tar")
    assert _gen(*GUM, "--out", str(root), "--shard", "1/2").exit_code == 0  # the same slice again
    assert _gen(*GUM, "--out", str(root), "--shard", "0/2").exit_code == 0
    assert _files(root) == _files(original)
