"""Real-video conditions in the generator (generators/scenes/realvideo.py): the ``flow`` and
``video_codec`` keys, exact truth under estimated flow and H.264 frames, meta, determinism, verify's
flow-error report, the presets, and the default path untouched."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from generators.chewing_gum import ChewingGumConfig, description
from generators.chewing_gum import generate_clip as gum_clip
from generators.config import load_gum_config
from generators.scenes import realvideo
from generators.scenes.config import FLOW_SOURCES, SceneConfig, load_scene
from generators.scenes.dataset import description as scene_description
from generators.scenes.engine import generate_clip
from generators.scenes.verify_scene import check_clip
from savos.cli.gen import main
from savos.data.codec import decode_clip, encode_clip
from savos.data.importers.flow import METHODS, stored_estimate
from savos.errors import SavosError

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"frame": {"height": 40, "width": 40, "frames": 6}, "targets": {"size": [6.0, 8.0]},
         "occluders": {"size": [6.0, 8.0]}, "background": {"kind": "noise"}}


def _small(**keys) -> SceneConfig:
    return SceneConfig.from_dict({**SMALL, **keys})


def _roundtrip(clip):
    return decode_clip(dict(encode_clip(clip)))


def test_keys_parse_and_default_to_the_exact_path(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("flow: dis-fine\nvideo_codec: h264\n")
    cfg = load_scene(path)
    assert (cfg.flow, cfg.video_codec) == ("dis-fine", "h264")
    assert FLOW_SOURCES == ("exact", *METHODS)
    # defaults are not recorded, so exact datasets keep their config, meta and dataset.json bytes
    assert "flow" not in SceneConfig().to_dict() and "video_codec" not in SceneConfig().to_dict()
    assert SceneConfig.from_dict(cfg.to_dict()) == cfg
    assert scene_description(cfg, 0) != scene_description(SceneConfig(), 0)  # never mistaken for exact
    gum = ChewingGumConfig(flow="farneback")
    assert gum.to_dict()["flow"] == "farneback" and "flow" not in ChewingGumConfig().to_dict()
    assert description(gum, 0) != description(ChewingGumConfig(), 0)


@pytest.mark.parametrize("text, key", [("flow: dis\n", "flow"), ("video_codec: mpeg\n", "video_codec"),
                                       ("flow: 3\n", "flow"), ("video_codec: null\n", "video_codec")])
def test_bad_values_are_one_line_naming_file_and_key(tmp_path, text, key):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for args in (["scene", str(path)], ["chewing-gum", "--config", str(path)]):
        result = CliRunner().invoke(main, [*args, "--n", "2", "--out", str(tmp_path / "o")])
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert str(path) in lines[0] and key in lines[0] and "Traceback" not in result.output
    with pytest.raises(SavosError, match=f"{path}: .*{key}"):
        load_gum_config(str(path), {})


def _arrays(clip) -> dict[str, np.ndarray]:
    return {n: getattr(clip, n) for n in ("rgb", "visible", "amodal", "amodal_known", "flow_fwd", "flow_bwd",
                                          "amodal_flow_fwd")}


@pytest.mark.parametrize("flow, codec", [("dis-fine", "none"), ("farneback", "none"), ("exact", "h264"),
                                         ("dis-medium", "h264")])
def test_exact_truth_under_estimated_flow(flow, codec):
    exact = _roundtrip(generate_clip(_small(), 2, 1, "train"))
    est = _roundtrip(generate_clip(_small(flow=flow, video_codec=codec), 2, 1, "train"))
    a, b = _arrays(exact), _arrays(est)
    changed = {n for n in a if not np.array_equal(a[n], b[n])}
    assert changed == ({"flow_fwd", "flow_bwd"} if flow != "exact" else set()) | ({"rgb"} if codec == "h264"
                                                                                  else set())
    # meta: the same vector truth; only the config and the records of what is estimated differ
    extra = {k for k in est.meta if k not in exact.meta}
    assert extra == ({"flow"} if flow != "exact" else set()) | ({"video_codec"} if codec == "h264" else set())
    assert {k: v for k, v in est.meta.items() if k not in extra | {"config"}} == \
        {k: v for k, v in exact.meta.items() if k != "config"}
    if flow != "exact":
        rec = est.meta["flow"]
        assert rec["method"] == f"opencv-{flow}" and rec["exact"] is False and rec["rounded_to_px"] == 0.125
        assert rec["from"] == ("h264-decoded frames" if codec == "h264" else "rendered frames")
        fwd, bwd, _ = stored_estimate(est.rgb, flow)  # the importer's estimate of the stored frames
        np.testing.assert_array_equal(est.flow_fwd, fwd)
        np.testing.assert_array_equal(est.flow_bwd, bwd)
    if codec == "h264":
        rec = est.meta["video_codec"]
        assert rec["codec"] == "h264" and rec["exact"] is False and rec["ffmpeg"]
        assert realvideo.psnr(est.rgb, exact.rgb) > realvideo.MIN_PSNR
    assert check_clip(est) == []


def test_same_seed_same_bytes_whatever_the_thread_count():
    import cv2

    cfg = _small(flow="dis-fine", video_codec="h264")
    first = encode_clip(generate_clip(cfg, 0, 3, "val"))
    threads = cv2.getNumThreads()
    cv2.setNumThreads(4)
    try:
        again = encode_clip(generate_clip(cfg, 0, 3, "val"))
    finally:
        cv2.setNumThreads(threads)
    assert first == again
    assert encode_clip(generate_clip(cfg, 1, 3, "val")) != first


def test_chewing_gum_with_estimated_flow():
    cfg = ChewingGumConfig(frames=6, flow="dis-fine")
    exact, est = gum_clip(ChewingGumConfig(frames=6), 0, 0, "test"), gum_clip(cfg, 0, 0, "test")
    np.testing.assert_array_equal(exact.amodal_flow_fwd, est.amodal_flow_fwd)
    np.testing.assert_array_equal(exact.rgb, est.rgb)
    assert not np.array_equal(exact.flow_fwd, est.flow_fwd)
    assert est.meta["config"]["flow"] == "dis-fine" and est.meta["flow"]["method"] == "opencv-dis-fine"


def test_verify_measures_the_flow_error_and_catches_a_swapped_estimate():
    clip = _roundtrip(generate_clip(_small(flow="dis-fine"), 0, 0, "train"))
    found = check_clip(clip)
    assert list(found) == []
    epe = found.measures["flow EPE on object pixels (px per frame)"]
    assert epe[1] > 0 and 0 < epe[0] / epe[1] < 5
    assert "per-object affine motion error (px per frame)" in found.measures
    clip.flow_fwd = clip.flow_fwd + np.float32(0.5)  # not what the estimator gives for these frames
    assert any("not the opencv-dis-fine estimate" in p for p in check_clip(clip))
    clip.meta["flow"]["exact"] = True
    assert any("meta.flow" in p for p in check_clip(clip))


def test_motion_fit_recovers_a_known_affine_motion():
    H = W = 32
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    motion = np.array([[0.99, -0.05, 0.7], [0.05, 0.99, -0.4]])  # p -> A p + b
    flow = np.stack([motion[0, 0] * xs + motion[0, 1] * ys + motion[0, 2] - xs,
                     motion[1, 0] * xs + motion[1, 1] * ys + motion[1, 2] - ys], -1)[None]
    mask = ((xs - 15) ** 2 + (ys - 14) ** 2 < 60)[None, None]
    maps, ok = realvideo.fit_motions(flow, mask)
    assert ok.all() and np.abs(maps[0, 0] - motion).max() < 1e-9
    chained, good = realvideo.chain(np.repeat(maps, 3, axis=0), np.repeat(ok, 3, axis=0), 3)
    want = motion[:, :2] @ motion[:, :2] @ motion[:, :2]
    assert good.all() and chained.shape == (1, 1, 2, 3) and np.abs(chained[0, 0, :, :2] - want).max() < 1e-9
    assert realvideo.motion_errors(maps, maps, ok, mask).tolist() == [0.0]
    sliver = np.zeros_like(mask)
    sliver[..., 5, 3:20] = True  # one row: no affine fit
    assert not realvideo.fit_motions(flow, sliver)[1].any()


def test_cli_chewing_gum_config_with_dis_fine_then_verify(tmp_path):
    config = tmp_path / "gum.yaml"
    config.write_text("frames: 6\nflow: dis-fine\n")
    out = tmp_path / "gum"
    runner = CliRunner()
    result = runner.invoke(main, ["chewing-gum", "--config", str(config), "--n", "3", "--val", "1",
                                  "--test", "1", "--out", str(out), "-q", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "dataset.json").read_text())["config"]["flow"] == "dis-fine"
    result = runner.invoke(main, ["verify", str(out), "-q", "--workers", "1"])
    assert result.exit_code == 0 and "OK" in result.output, result.output
    assert "estimated against the exact truth (3 clips" in result.output
    line = next(x for x in result.output.splitlines() if "flow EPE on object pixels (px per frame)" in x)
    assert float(line.rsplit(":", 1)[1]) > 0
    result = runner.invoke(main, ["verify", str(out), "-q", "--workers", "1", "--json"])
    stats = json.loads(result.output)["stats"]
    assert stats["measured_clips"] == 3 and stats["measures"]["flow EPE on object pixels (px per frame)"] > 0


def test_exact_verify_report_has_no_estimate_lines(tmp_path):
    scene = tmp_path / "s.yaml"
    scene.write_text(json.dumps(SMALL))
    runner = CliRunner()
    args = ["scene", str(scene), "--n", "2", "--val", "0", "--test", "0", "-q", "--workers", "1"]
    assert runner.invoke(main, [*args, "--out", str(tmp_path / "a")]).exit_code == 0
    result = runner.invoke(main, ["verify", str(tmp_path / "a"), "-q", "--workers", "1"])
    assert result.exit_code == 0 and "estimated" not in result.output, result.output


@pytest.mark.parametrize("base", ["gum", "camera", "textured", "nonrigid"])
def test_real_video_presets_are_their_base_with_the_keys(base):
    scenes = ROOT / "recipes" / "scenes"
    plain = load_scene(scenes / f"{base}.yaml")
    assert load_scene(scenes / f"{base}-dis.yaml") == dataclasses.replace(plain, flow="dis-fine")
    assert load_scene(scenes / f"{base}-dis-h264.yaml") == dataclasses.replace(plain, flow="dis-fine",
                                                                              video_codec="h264")


def test_flow_robustness_benchmark_scores_exact_flow_as_exact():
    import importlib.util

    path = ROOT / "benchmarks" / "flow_robustness.py"
    spec = importlib.util.spec_from_file_location("flow_robustness", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.measure("gum", ["exact", "dis-medium"], ["affine-lsq"], clips=1)
    exact, est = rows
    # affine-lsq is the carry's fit: its 1 px^2 ridge costs ~0.01 px per frame on exact flow
    assert exact["epe_obj"] == 0 and exact["motion_frame"] < 0.02 and exact["object_frames"] == 45
    assert est["epe_obj"] > 0.1 and est["motion_frame"] > exact["motion_frame"]
    assert exact["union_occ"] > 0.9 and est["union_occ"] < exact["union_occ"]
    head = bench.format_table(rows).splitlines()[0]
    assert "motion x8" in head and "union occ" in head
