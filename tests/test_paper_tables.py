"""scripts/paper_tables.sh (the paper's three tables through export and import) in a shortened mode:
every table's rows trained, adapted and scored under its protocol, published, and rendered by
scripts/results_doc.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = {
    "table1-fishbowl": ("savos", ["visible", "convex", "union", "image-ssl", "savos", "oracle"]),
    "table1-kins": ("savos-kins", ["visible", "convex", "union", "image-ssl", "savos", "oracle"]),
    "table2": ("savos", ["image-ssl", "image-ssl+tta", "savos", "savos+tta", "savos-all-types"]),
    "table3": ("savos-kins", ["savos-fishbowl", "savos-fishbowl+tta", "savos-kins"]),
}


def test_paper_tables_shortened_makes_and_publishes_every_table(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "RUNS": str(tmp_path / "runs"),
           "RESULTS": str(tmp_path / "results"), "N": "12", "MINUTES": "2",
           "EXTRA": "train.steps=2 data.val_clips=1 train.threads=1", "ADAPT": "adapt.max_iters=2",
           "BIN": str(Path(sys.executable).parent), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(["bash", "scripts/paper_tables.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    fish = tmp_path / "data" / "fishbowl-sim-real"
    made = json.loads((fish / "dataset.json").read_text())
    assert "fishbowl" in json.dumps(made).lower()  # imported through the FISHBOWL importer
    for table, (protocol, rows) in ROWS.items():
        lines = (tmp_path / "runs" / table / "table.md").read_text().splitlines()
        assert [line.split("|")[1].strip() for line in lines[2:]] == rows, lines
        for row in rows:
            doc = json.loads((tmp_path / "results" / table / row / f"metrics_{protocol}.json").read_text())
            assert doc["fingerprint"]["split"] == "test"
    ran = (tmp_path / "results" / "table1-fishbowl" / "savos" / "config.yaml").read_text()
    assert "carry_motion: mask-align-smooth" in ran  # SaVos's carry on estimated flow
    unseen = tmp_path / "data" / "fishbowl-sim-unseen"
    assert json.loads((unseen / "dataset.json").read_text())["config"]["unseen_type"] == "fish-tuna"

    shutil.copy(ROOT / "results" / "paper.json", tmp_path / "results" / "paper.json")
    shutil.copytree(ROOT / "results" / "gum", tmp_path / "results" / "gum")
    (tmp_path / "README.md").write_text("# x\n\n<!-- results:begin (scripts/results_doc.py) -->\n"
                                        "<!-- results:end -->\n")
    r = subprocess.run([sys.executable, "scripts/results_doc.py", "--results", str(tmp_path / "results"),
                        "--page", str(tmp_path / "results.md"), "--readme", str(tmp_path / "README.md")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "results.md").read_text()
    kins = page.split("## Table 1, KINS-Video-Car")[1].split("\n## ")[0]
    assert "protocol `savos-kins`" in kins and "| 0.8258 | 0.3132 |" in kins  # the paper's SaVos row
    assert "(imported, import-kins-video-car)" in kins and "seed None" not in page  # imported: no seed
    table3 = page.split("## Table 3")[1]
    assert "SaVos trained on fishbowl-sim, adapted per clip" in table3 and "| 0.8235 | 0.2976 |" in table3


def test_an_export_is_made_again_when_its_source_changed(tmp_path):
    """The script keeps an export only while it is of the source dataset as it is now."""
    gen = [str(Path(sys.executable).parent / "savos-gen"), "chewing-gum", "--n", "2", "-q"]
    subprocess.run([*gen, "--out", str(tmp_path / "a")], check=True)
    subprocess.run([*gen, "--seed", "7", "--out", str(tmp_path / "b")], check=True)
    subprocess.run([str(Path(sys.executable).parent / "savos-gen"), "export", "fishbowl", str(tmp_path / "a"),
                    "--out", str(tmp_path / "x"), "-q"], check=True)
    script = (ROOT / "scripts" / "paper_tables.sh").read_text()
    function = script[script.index("exported() {"):]
    function = function[:function.index("\n}\n") + 3]
    env = {**os.environ, "BIN": str(Path(sys.executable).parent)}

    def exported(src: str, exp: str) -> bool:
        run = subprocess.run(["bash", "-c", function + f'exported "{tmp_path / src}" "{tmp_path / exp}"'],
                             env=env, capture_output=True, text=True)
        return run.returncode == 0

    assert exported("a", "x")
    assert not exported("b", "x")  # another source: export again
    assert not exported("a", "none")  # nothing exported yet
