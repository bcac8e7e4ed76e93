"""The on-disk format: codec round trip, shards, dataset folders, resumable and parallel writing."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toy import make_toy, toy_clip

from savos.data import ClipError, ShardError, open_dataset
from savos.data.codec import FLOW_QUANTUM, decode_clip, dequantize_flow, encode_clip, quantize_flow
from savos.data.shards import ShardReader, ustar_header, write_shard
from savos.data.verify import verify_dataset
from savos.data.writer import plan_shards, write_dataset
from savos.errors import SavosError

DESC = {"generator": "toy", "version": "0", "seed": 0, "config": {}, "sides": (7, 12), "amodal_flow": True}
SPLITS = {"train": 7, "val": 3, "test": 2}


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_codec_round_trip_is_exact_except_flow_quantisation():
    clip = toy_clip(3)
    back = decode_clip(dict(encode_clip(clip)))
    for name in ("rgb", "visible", "amodal"):
        a, b = getattr(clip, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert back.meta == clip.meta
    for name in ("flow_fwd", "flow_bwd", "amodal_flow_fwd"):
        err = np.abs(getattr(back, name) - getattr(clip, name)).max()
        assert err <= 0.5 / FLOW_QUANTUM + 1e-7, (name, err)
    back.rgb[0, 0, 0] = 1  # decoded arrays are the caller's to modify


def test_codec_without_amodal_flow():
    clip = toy_clip(1, amodal_flow=False)
    members = dict(encode_clip(clip))
    assert "amodal_flow_fwd.zst" not in members
    assert decode_clip(members).amodal_flow_fwd is None


def test_encoding_is_deterministic():
    assert encode_clip(toy_clip(5)) == encode_clip(toy_clip(5))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-300, 300, allow_nan=False, width=32), min_size=2, max_size=64))
def test_flow_quantisation_error_is_below_0_01_px(values):
    flow = np.array(values + values[:1] * (len(values) % 2), np.float32).reshape(1, -1, 2)
    data, dtype = quantize_flow(flow)
    back = dequantize_flow(data, dtype, flow.shape)
    assert np.abs(back - flow).max() <= 0.01
    assert np.array_equal(back == 0, np.rint(flow * FLOW_QUANTUM) == 0)


def test_large_flow_uses_wider_integers():
    flow = np.zeros((1, 3, 4, 2), np.float32)
    flow[0, 0, 1, 0] = 900.0
    flow[0, 2, 3, 1] = -900.0
    data, dtype = quantize_flow(flow)
    assert dtype == "int32" and np.allclose(dequantize_flow(data, dtype, flow.shape), flow)


def test_sparse_flow_costs_only_moving_pixels():
    flow = np.zeros((15, 64, 64, 2), np.float32)
    still, _ = quantize_flow(flow)
    assert len(still) == 15 * 64 * 64 // 8  # just the (empty) map
    flow[3, 10:20, 10:20] = (0.5, -0.25)
    data, dtype = quantize_flow(flow)
    assert len(data) == len(still) + 100 * 2 * 2
    assert np.array_equal(dequantize_flow(data, dtype, flow.shape), flow)


def test_decode_rejects_truncated_member():
    members = dict(encode_clip(toy_clip(0)))
    members["amodal.zst"] = members["amodal.zst"][:-3]
    with pytest.raises(ClipError, match="amodal"):
        decode_clip(members)


def test_clip_validate_names_the_broken_field():
    clip = toy_clip(0)
    clip.visible[0, 0, 0] = 1  # object 1 shown where no amodal mask is set
    with pytest.raises(ClipError, match="visible"):
        clip.validate()
    clip = toy_clip(0)
    clip.flow_fwd = clip.flow_fwd.astype(np.float64)
    with pytest.raises(ClipError, match="flow_fwd"):
        clip.validate()


def test_occlusion_rate_convention():
    clip = toy_clip(0)
    rate = clip.occlusion_rate()
    # square rows 2..7 (6 rows) under the bar rows 4..5 (2 rows): a third hidden
    assert np.allclose(rate[:, 0], 2 / 6) and np.allclose(rate[:, 1], 0.0)


def test_plan_shards_indices_are_global_and_contiguous():
    jobs = plan_shards(SPLITS, 3)
    assert [(j.split, j.first_index, j.count) for j in jobs] == [
        ("train", 0, 3), ("train", 3, 3), ("train", 6, 1), ("val", 7, 3), ("test", 10, 2)]


def test_write_and_read_dataset(tmp_path):
    info = write_dataset(tmp_path / "ds", make_toy, SPLITS, DESC, shard_size=3, workers=1, progress=False)
    assert info["splits"]["val"]["count"] == 3
    ds = open_dataset(tmp_path / "ds", "val")
    assert len(ds) == 3
    clip = ds[1]
    assert clip.meta["index"] == 8 and clip.meta["split"] == "val" and clip.key == "clip_000008"
    assert np.array_equal(clip.amodal, toy_clip(8, "val").amodal)
    assert [c.meta["index"] for c in open_dataset(tmp_path / "ds", "train")] == list(range(7))
    assert ds[-1].meta["index"] == 9
    with pytest.raises(IndexError):
        ds[3]
    report = verify_dataset(tmp_path / "ds", workers=1, progress=False)
    assert report["problems"] == [] and report["stats"]["clips"] == 12


def test_serial_parallel_and_sharded_runs_give_identical_bytes(tmp_path):
    write_dataset(tmp_path / "serial", make_toy, SPLITS, DESC, shard_size=2, workers=1, progress=False)
    write_dataset(tmp_path / "parallel", make_toy, SPLITS, DESC, shard_size=2, workers=2, progress=False)
    assert write_dataset(tmp_path / "sharded", make_toy, SPLITS, DESC, shard_size=2, workers=1,
                         shard=(1, 3), progress=False) is None
    assert not (tmp_path / "sharded" / "dataset.json").exists()
    write_dataset(tmp_path / "sharded", make_toy, SPLITS, DESC, shard_size=2, workers=1, shard=(0, 3),
                  progress=False)
    write_dataset(tmp_path / "sharded", make_toy, SPLITS, DESC, shard_size=2, workers=1, shard=(2, 3),
                  progress=False)
    serial = _tree_digest(tmp_path / "serial")
    assert serial == _tree_digest(tmp_path / "parallel") == _tree_digest(tmp_path / "sharded")


class _Boom(Exception):
    pass


def _make_toy_dying_at_5(index: int, split: str):
    if index == 5:
        raise _Boom()
    return make_toy(index, split)


def test_interrupted_run_resumes_to_identical_bytes(tmp_path):
    write_dataset(tmp_path / "ref", make_toy, SPLITS, DESC, shard_size=2, workers=1, progress=False)
    with pytest.raises(_Boom):
        write_dataset(tmp_path / "run", _make_toy_dying_at_5, SPLITS, DESC, shard_size=2, workers=1,
                      progress=False)
    shards = sorted(p.name for p in (tmp_path / "run" / "train").iterdir())
    assert shards == ["shard-000000.tar", "shard-000001.tar"]  # whole shards only, no temp files
    assert not (tmp_path / "run" / "dataset.json").exists()
    write_dataset(tmp_path / "run", make_toy, SPLITS, DESC, shard_size=2, workers=1, progress=False)
    assert _tree_digest(tmp_path / "ref") == _tree_digest(tmp_path / "run")


def test_resume_with_other_settings_is_refused(tmp_path):
    write_dataset(tmp_path / "ds", make_toy, SPLITS, DESC, shard_size=2, workers=1, progress=False)
    with pytest.raises(SavosError, match="other settings"):
        write_dataset(tmp_path / "ds", make_toy, SPLITS, {**DESC, "seed": 1}, shard_size=2, workers=1,
                      progress=False)


def test_corrupted_shard_gives_one_line_error_naming_shard(tmp_path):
    write_dataset(tmp_path / "ds", make_toy, SPLITS, DESC, shard_size=3, workers=1, progress=False)
    shard = tmp_path / "ds" / "train" / "shard-000001.tar"
    data = bytearray(shard.read_bytes())
    data[2000] ^= 0xFF
    shard.write_bytes(bytes(data))
    ds = open_dataset(tmp_path / "ds", "train")
    ds[0]  # other shards still read
    with pytest.raises(ShardError) as e:
        ds[4]
    assert "shard-000001.tar" in str(e.value) and "\n" not in str(e.value)
    report = verify_dataset(tmp_path / "ds", workers=1, progress=False)
    assert any("shard-000001.tar" in p and "checksum" in p for p in report["problems"])


def test_unverified_read_names_shard_and_clip(tmp_path):
    write_dataset(tmp_path / "ds", make_toy, SPLITS, DESC, shard_size=3, workers=1, progress=False)
    shard = tmp_path / "ds" / "train" / "shard-000000.tar"
    with tarfile.open(shard) as tar:
        m = tar.getmember("clip_000001.visible.zst")
    data = bytearray(shard.read_bytes())
    data[m.offset_data + 4: m.offset_data + 8] = b"\0\0\0\0"
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardError, match=r"shard-000000\.tar: clip clip_000001"):
        open_dataset(tmp_path / "ds", "train", verify=False)[1]


def test_unsafe_member_names_are_refused(tmp_path):
    path = tmp_path / "evil.tar"
    write_shard(path, [("clip_000000", [("meta.json", b"{}")])])
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo("../escape.meta.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(ShardError, match="unsafe"):
        ShardReader(path).keys()


def test_missing_dataset_and_split_errors(tmp_path):
    with pytest.raises(SavosError, match="savos-gen"):
        open_dataset(tmp_path / "nope")
    write_dataset(tmp_path / "ds", make_toy, SPLITS, DESC, shard_size=3, workers=1, progress=False)
    with pytest.raises(SavosError, match="no split 'dev'"):
        open_dataset(tmp_path / "ds", "dev")
    (tmp_path / "ds" / "dataset.json").write_text("{not json")
    with pytest.raises(SavosError, match="dataset.json: the dataset description is not valid JSON"):
        open_dataset(tmp_path / "ds")


def test_dataset_json_records_settings_and_checksums(tmp_path):
    write_dataset(tmp_path / "ds", make_toy, SPLITS, DESC, shard_size=5, workers=1, progress=False)
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert info["seed"] == 0 and info["generator"] == "toy" and info["shard_size"] == 5
    shard = info["splits"]["train"]["shards"][0]
    digest = hashlib.sha256((tmp_path / "ds" / "train" / shard["name"]).read_bytes()).hexdigest()
    assert shard["sha256"] == digest


def test_rerun_of_finished_dataset_is_a_no_op(tmp_path):
    write_dataset(tmp_path / "ds", make_toy, SPLITS, DESC, shard_size=3, workers=1, progress=False)
    before = _tree_digest(tmp_path / "ds")
    info = write_dataset(tmp_path / "ds", make_toy, SPLITS, DESC, shard_size=3, workers=1, progress=False)
    assert info["sides"] == [7, 12] and _tree_digest(tmp_path / "ds") == before


def _tarfile_bytes(groups) -> bytes:
    """What the standard library's tarfile writes for the same members (the reference for our writer)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in groups:
            for suffix, data in members:
                info = tarfile.TarInfo(f"{key}.{suffix}")
                info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "", ""
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@given(sizes=st.lists(st.lists(st.integers(0, 3000), min_size=1, max_size=4), min_size=0, max_size=6))
@settings(max_examples=30, deadline=None)
def test_shard_bytes_equal_tarfile(tmp_path_factory, sizes):
    groups = [(f"clip_{i:06d}", [(f"m{j}.zst", bytes([i + j]) * n) for j, n in enumerate(clip)])
              for i, clip in enumerate(sizes)]
    path = tmp_path_factory.mktemp("shard") / "s.tar"
    digest, n = write_shard(path, groups)
    assert path.read_bytes() == _tarfile_bytes(groups)
    assert (digest, n) == (hashlib.sha256(path.read_bytes()).hexdigest(), len(groups))


def test_ustar_header_refuses_long_names():
    assert len(ustar_header("clip_000000.amodal_flow_fwd.zst", 8**11 - 1)) == 512
    with pytest.raises(ShardError, match="cannot store"):
        ustar_header("x" * 100, 1)
    with pytest.raises(ShardError, match="cannot store"):
        ustar_header("a.b", 8**11)


def test_retain_freed_memory_applies_on_glibc_only():
    import platform
    import sys

    from savos.data.malloc import retain_freed_memory

    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert retain_freed_memory() is glibc


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 200), st.booleans())
def test_count_true_equals_count_nonzero(seed, length, strided):
    from savos.data.bitcount import count_true

    rng = np.random.default_rng(seed)
    mask = rng.random((3, 5, length * (2 if strided else 1))) < rng.random()
    if strided:
        mask = mask[:, :, ::2]  # not contiguous
    got = count_true(mask)
    assert got.dtype == np.int64 and np.array_equal(got, np.count_nonzero(mask, axis=-1))


def test_unvalidated_encoding_is_still_checked_when_read():
    """encode_clip(validate=False) (for generators valid by construction) cannot smuggle a broken clip
    past readers: decode_clip validates."""
    clip = toy_clip(2)
    clip.visible[0, 0, 0] = clip.num_objects + 1  # names an object that does not exist
    with pytest.raises(ClipError):
        encode_clip(clip)
    with pytest.raises(ClipError, match="visible names object"):
        decode_clip(dict(encode_clip(clip, validate=False)))
