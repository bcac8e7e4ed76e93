"""scripts/results_doc.py: the results page and the README's table come from the published metrics files,
--check notices a hand edit, and metrics of another dataset are refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from savos.evaluation.baselines import run_baseline
from savos.evaluation.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]
README = """# x

<!-- results:begin (scripts/results_doc.py) -->
<!-- results:end -->
"""


def _doc(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/results_doc.py", "--results", str(tmp / "results"),
                           "--page", str(tmp / "results.md"), "--readme", str(tmp / "README.md"), *extra],
                          cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def published(gum_root, tmp_path_factory) -> Path:
    """results/gum with two baselines scored on the tiny gum set, as scripts/results.sh publishes it."""
    tmp = tmp_path_factory.mktemp("published")
    (tmp / "results" / "gum").mkdir(parents=True)
    shutil.copy(ROOT / "results" / "paper.json", tmp / "results" / "paper.json")
    shutil.copy(gum_root / "dataset.json", tmp / "results" / "gum" / "dataset.json")
    for name in ("convex", "visible"):
        pred = tmp / "preds" / name
        run_baseline(name, gum_root, "test", pred, progress=False)
        evaluate(pred, gum_root, "test", progress=False)
        (tmp / "results" / "gum" / name).mkdir()
        shutil.copy(pred / "metrics_savos.json", tmp / "results" / "gum" / name / "metrics_savos.json")
    return tmp


def test_page_and_readme_table_hold_the_metrics_files_numbers(published, tmp_path):
    shutil.copytree(published / "results", tmp_path / "results")
    (tmp_path / "README.md").write_text(README)
    r = _doc(tmp_path)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "results.md").read_text()
    readme = (tmp_path / "README.md").read_text()
    for name, words in (("convex", "convex hull"), ("visible", "visible mask")):
        s = json.loads((tmp_path / "results" / "gum" / name / "metrics_savos.json").read_text())["summary"]
        row = next(line for line in page.splitlines() if line.startswith(f"| {words}"))
        assert f"{s['miou_full']:.4f}" in row and f"{s['miou_occ']:.4f}" in row
        assert f"| {s['miou_full']:.4f} | {s['miou_occ']:.4f} |" in readme
    convex = next(line for line in readme.splitlines() if line.startswith("| convex hull"))
    assert convex.rstrip().endswith("| 0.9264 | 0.3182 |")  # the paper's Chewing-Gum column
    rows = [line for line in readme.splitlines() if line.startswith("| ")]
    assert rows.index(next(x for x in rows if x.startswith("| visible"))) < rows.index(convex)  # row order
    assert _doc(tmp_path, "--check").returncode == 0

    (tmp_path / "results.md").write_text(page.replace("0.", "0.9", 1))  # a number typed by hand
    r = _doc(tmp_path, "--check")
    assert r.returncode == 1 and "results.md: out of date" in r.stderr


def test_metrics_of_another_dataset_are_refused(published, tmp_path):
    shutil.copytree(published / "results", tmp_path / "results")
    (tmp_path / "README.md").write_text(README)
    info = tmp_path / "results" / "gum" / "dataset.json"
    doc = json.loads(info.read_text())
    doc["seed"] = 1
    info.write_text(json.dumps(doc))
    r = _doc(tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "metrics_savos.json: scored on dataset" in r.stderr
    assert not (tmp_path / "results.md").exists()


def test_a_readme_without_the_table_block_is_one_line(published, tmp_path):
    shutil.copytree(published / "results", tmp_path / "results")
    (tmp_path / "README.md").write_text("# x\n")
    r = _doc(tmp_path)
    assert r.returncode == 2 and "README.md: no" in r.stderr


def test_a_set_with_never_seen_parts_gets_that_column_and_its_own_recipes_rows(published, tmp_path):
    shutil.copytree(published / "results", tmp_path / "results")
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "results" / "gum").rename(tmp_path / "results" / "fishbowl-sim")
    fish = tmp_path / "results" / "fishbowl-sim"
    (fish / "convex").rename(fish / "fishbowl-sim-image-ssl")  # the set's own recipe of gum-image-ssl
    path = fish / "fishbowl-sim-image-ssl" / "metrics_savos.json"
    doc = json.loads(path.read_text())
    doc["summary"].update(miou_never=0.4321, pairs_never=7)
    path.write_text(json.dumps(doc))
    (tmp_path / "results" / "gum").mkdir()  # the headline set, as published
    for f in ("dataset.json",):
        shutil.copy(fish / f, tmp_path / "results" / "gum" / f)
    shutil.copytree(fish / "visible", tmp_path / "results" / "gum" / "visible")
    r = _doc(tmp_path)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "results.md").read_text()
    section = page.split("## fishbowl-sim")[1].split("## ")[0]
    assert "| never seen |" in section and "paper full" in section  # the paper's FISHBOWL column
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows[0].startswith("| visible mask") and "0.0000 | 0.0000 |" in rows[0]  # never: nothing there
    assert "image-ssl" in rows[1] and "`recipes/fishbowl-sim-image-ssl.yaml`" in rows[1]
    assert "| 0.4321 |" in rows[1] and rows[1].rstrip().endswith("| 0.8704 | 0.6502 |")
    gum = page.split("## Chewing Gum, default")[1].split("## ")[0]
    assert "never seen" not in gum  # a set whose every part is seen at some time has no such column
