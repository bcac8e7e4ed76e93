"""The docs hold together: every link and every repository path they name exists, the results page and
the README's table are what the metrics files give, and the product speaks of itself, not of how it was
made."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")
PATH = re.compile(r"`((?:savos|generators|scripts|benchmarks|recipes|tests|examples|results)/[\w./-]+)`")
HISTORY = re.compile(r"\bsessions?\b|\bissue\s*#?\d|\bformer\b|as it then was|\bpreviously\b", re.I)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_and_paths_exist(page):
    text = page.read_text()
    missing = []
    for target, _ in LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (page.parent / target).exists():
            missing.append(target)
    for path in PATH.findall(text):
        path = path.rstrip(".")
        if not any(c in path for c in "<>*{}") and not (ROOT / path).exists():
            missing.append(path)
    assert not missing, f"{page.name} names what does not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_development_history(page):
    hits = [line for line in page.read_text().splitlines() if HISTORY.search(line)]
    assert not hits, hits


def test_results_page_and_readme_table_match_the_metrics_files():
    r = subprocess.run([sys.executable, "scripts/results_doc.py", "--check"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
