"""What the commands print and write is readable: headers and legends, explained columns, honest empty
cases (data without amodal truth), before/after scores of adaptation, and consistent CLI defaults."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from toy import toy_clip

from savos.adapt.split import format_summary
from savos.cli.gen import main as gen_main
from savos.cli.main import main as savos_main
from savos.data.guessability import clip_guessability
from savos.data.verify import format_report, verify_dataset
from savos.data.writer import write_dataset
from savos.errors import SavosError
from savos.evaluation.baselines import run_baseline
from savos.evaluation.evaluate import evaluate, format_table
from savos.report.report import make_report

DESC = {"generator": "toy", "version": "0", "seed": 0, "config": {}, "amodal_flow": True}


def _no_truth(index: int, split: str):
    clip = toy_clip(index, split)
    clip.amodal_known[:] = False  # a user's video: visible masks only
    return clip


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy") / "data"
    write_dataset(root, toy_clip, {"train": 1, "test": 2}, DESC, shard_size=2, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def no_truth_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video") / "data"
    write_dataset(root, _no_truth, {"train": 1, "test": 2}, DESC, shard_size=2, workers=1, progress=False)
    return root


def test_eval_table_has_a_header_a_row_and_a_legend(toy_data, tmp_path):
    pred = run_baseline("convex", toy_data, "test", tmp_path / "convex", progress=False)
    lines = format_table(evaluate(pred, toy_data, "test", "savos", progress=False)).splitlines()
    assert len(lines) == 3
    assert lines[0].split()[:4] == ["method", "protocol", "full", "mIoU"]
    assert "metric" not in lines[0]  # named for what they average, explained on the legend line
    assert lines[1].startswith("convex") and lines[1].index("savos") == lines[0].index("protocol")
    assert lines[2].startswith("(mIoU = frame-avg under this protocol")
    eoras = format_table(evaluate(pred, toy_data, "test", "eoras", progress=False)).splitlines()
    assert eoras[2].startswith("(mIoU = pair-avg")


def test_report_explains_its_columns_names_baselines_and_refuses_to_replace(toy_data, tmp_path):
    pred = run_baseline("visible", toy_data, "test", tmp_path / "visible", progress=False)
    index = make_report([pred], tmp_path / "report", clips=1)
    text = index.read_text()
    results = (tmp_path / "report" / "results.md").read_text()
    assert "metric2" not in results and "pair-avg" in results and "frame-avg" in results
    assert "run `None`" not in text and "no training run (a baseline)" in text
    assert (tmp_path / "report" / "iou_vs_occlusion.png").is_file()
    with pytest.raises(SavosError, match="holds a report already; pass --overwrite"):
        make_report([pred], tmp_path / "report", clips=1)
    assert make_report([pred], tmp_path / "report", clips=1, overwrite=True) == index

    runner = CliRunner()
    refused = runner.invoke(savos_main, ["report", str(pred), "--out", str(tmp_path / "report"), "-q"])
    assert refused.exit_code != 0 and "--overwrite" in refused.output
    ok = runner.invoke(savos_main, ["report", str(pred), "--out", str(tmp_path / "report"), "-q",
                                    "--overwrite", "--clips", "0"])
    assert ok.exit_code == 0, ok.output


def test_report_on_data_without_amodal_truth_says_so_and_draws_no_empty_plot(no_truth_data, tmp_path):
    pred = run_baseline("visible", no_truth_data, "test", tmp_path / "visible", progress=False)
    index = make_report([pred], tmp_path / "report", clips=1)
    results = (tmp_path / "report" / "results.md").read_text()
    assert "nothing to score" in results and "n/a" not in results and "|" not in results
    assert not (tmp_path / "report" / "iou_vs_occlusion.png").exists()
    assert "IoU against occlusion rate" not in index.read_text()
    assert (tmp_path / "report" / "clips").is_dir()  # the predictions are still shown


def test_verify_without_amodal_truth_prints_no_statistics_of_nothing(no_truth_data):
    report = verify_dataset(no_truth_data, workers=1, progress=False)
    assert report["stats"]["target_frames"] == 0
    assert report["stats"]["guessability"]["object_frames"] == 0  # unknown amodal is not counted
    text = format_report(report)
    assert "no occlusion statistics" in text and "guessability" not in text and "%" not in text


def test_guessability_counts_only_object_frames_with_known_amodal():
    clip = toy_clip(0)
    full = clip_guessability(clip)
    clip.amodal_known[1:3, 0] = False
    part = clip_guessability(clip)
    assert len(part.frame) == len(full.frame) - 2 and not np.isin([1, 2], part.frame[part.object == 0]).any()


def test_adapt_summary_prints_before_and_after():
    row = {"key": "clip_000000", "steps": 4, "stopped": "patience", "seconds": 1.0,
           "visible_iou_before": 0.5, "visible_iou_after": 0.75, "occluded_iou_before": 0.25,
           "occluded_iou_after": 0.5}
    summary = {"clips": [row], "mean_steps": 4.0, "mean_seconds": 1.0,
               **{f"mean_{k}": v for k, v in row.items() if k.endswith(("_before", "_after"))}}
    text = format_summary(summary)
    assert "before 0.5000, after 0.7500" in text and "before 0.2500, after 0.5000" in text
    summary.update(mean_occluded_iou_before=None, mean_occluded_iou_after=None)
    assert "occluded IoU: n/a (the data has no amodal truth)" in format_summary(summary)


def _option(group: click.Group, command: str, name: str) -> click.Option:
    return next(p for p in group.commands[command].params if p.name == name)


def test_cli_defaults_agree_across_commands():
    assert _option(gen_main, "preview", "split").default == "test"
    assert all(_option(savos_main, c, "split").default == "test" for c in ("eval", "predict", "adapt"))
    assert _option(savos_main, "adapt", "device").default == _option(savos_main, "predict", "device").default
    for group, command in ((savos_main, "report"), (gen_main, "preview"), (gen_main, "gallery")):
        assert "-q" in _option(group, command, "quiet").opts
    assert _option(gen_main, "gallery", "out").required  # never into the repo's docs/ by default


def test_gallery_writes_one_gif_per_preset_and_one_line(tmp_path):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    preset = Path(__file__).resolve().parent.parent / "recipes" / "scenes" / "shapes.yaml"
    (scenes / "shapes.yaml").write_text(preset.read_text())
    result = CliRunner().invoke(gen_main, ["gallery", "--scenes", str(scenes), "--out", str(tmp_path / "g"),
                                           "-q", "--scale", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote 1 GIFs to {tmp_path / 'g'}"
    assert (tmp_path / "g" / "shapes.gif").is_file()
