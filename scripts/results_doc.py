"""Generate docs/results.md and the README's headline table from the published metrics files.

    python scripts/results_doc.py           # rewrite docs/results.md and the README's table
    python scripts/results_doc.py --check   # exit 1 if either differs from what the files give

Reads ``results/`` (what ``bash scripts/results.sh`` publishes):
- ``results/paper.json``: the paper's Table 1;
- ``results/<set>/dataset.json``: the dataset the set's methods were scored on;
- ``results/<set>/<method>/metrics_savos.json``: a method's scores on its test split (``savos eval``),
  with ``config.yaml`` and ``metrics.json`` (the run's summary) beside it for a learned method.
Every metrics file must name the dataset beside it (its fingerprint), or the script refuses it. No number
in the generated text is typed by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from savos.data import fingerprint
from savos.errors import SavosError
from savos.evaluation.evaluate import read_metrics
from savos.readers import read_json
from savos.training.summary import SUMMARY, read_summary

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin (scripts/results_doc.py) -->", "<!-- results:end -->"

# The row order and the words of each known method; anything else follows, in name order.
METHODS = {
    "visible": ("visible mask (the floor)", "none", None),
    "convex": ("convex hull of the visible mask", "none", "convex"),
    "circle": ("circle fitted to the free contour", "none", None),
    "gum-image-ssl": ("image-ssl (Self-Deocclusion style, per frame)", "self", "self-deocclusion"),
    "gum-cpu-paper": ("SaVos, the paper's network and loss", "self", "savos"),
    "gum-cpu": ("SaVos + carry + L_V (`recipes/gum-cpu.yaml`)", "self", "savos"),
    "gum-hard-cpu": ("SaVos + carry + L_V, horizon, L_O (`recipes/gum-hard-cpu.yaml`)", "self", "savos"),
    "union": ("union: the carried visible masks, no learning", "none", None),
    "gum-oracle-unet": ("oracle U-Net (per frame)", "amodal labels", "supervised-oracle"),
    "gum-oracle-savos": ("oracle SaVos (the SaVos network)", "amodal labels", "supervised-oracle"),
}
SETS = {  # set folder -> (title, the paper's column, how the data is made)
    "gum": ("Chewing Gum, default", "chewing-gum", "savos-gen chewing-gum --n 5000 --out data/gum"),
    "gum-hard": ("Chewing Gum, gum-hard", None,
                 "savos-gen chewing-gum --config recipes/data/gum-hard.yaml --n 5000 --out data/gum-hard"),
}
HEADLINE = "gum"
INTRO = """\
Every number on this page is read from a metrics file under `results/`, which `bash scripts/results.sh`
publishes: it generates each set, trains each learned method, predicts the test split, scores it with
`savos eval`, and copies the metrics, the run's config and summary and the dataset's `dataset.json` there.
Scores are mIoU under the `savos` protocol (the paper's; [metrics.md](metrics.md)): *full* over the whole
amodal mask, *occluded* over the part other objects hide, on object-frames with an occlusion rate in
(0.1, 0.7). *steps* is how far a learned method's run trained (and of how many planned, where it stopped
early). The paper's columns are its Table 1 (`results/paper.json`). The methods: [method.md](method.md)."""


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def _run_facts(folder: Path) -> str:
    """Steps and minutes of a learned method's run, from its published summary and config."""
    config = folder / "config.yaml"
    if not (folder / SUMMARY).is_file():
        return "–"
    doc = read_summary(folder)
    steps = f"{doc.get('step', '?')}"
    if config.is_file():
        planned = (yaml.safe_load(config.read_text()) or {}).get("train", {}).get("steps")
        if planned and planned != doc.get("step"):
            steps += f" of {planned}"
    return steps


def load_set(folder: Path) -> tuple[dict, list[tuple[str, dict]]]:
    """(the set's dataset.json, [(method, metrics)] in row order), each metrics file checked against the
    dataset it claims."""
    info_path = folder / "dataset.json"
    info = read_json(info_path, "published dataset.json")
    want = fingerprint(folder)
    rows = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        path = sub / "metrics_savos.json"
        if not path.is_file():
            continue
        doc = read_metrics(path)
        got = doc["fingerprint"].get("dataset_id")
        if got != want:
            raise SavosError(f"{path}: scored on dataset {got}, but {info_path} is {want}; publish the "
                             "metrics and the dataset.json of the same run of scripts/results.sh")
        if doc["fingerprint"].get("split") != "test":
            raise SavosError(f"{path}: scores split {doc['fingerprint'].get('split')!r}, not test")
        rows.append((sub.name, doc))
    order = list(METHODS)
    rows.sort(key=lambda r: (order.index(r[0]) if r[0] in order else len(order), r[0]))
    return info, rows


def set_table(folder: Path, paper: dict, with_facts: bool = True) -> str:
    info, rows = load_set(folder)
    _, column, _ = SETS.get(folder.name, (folder.name, None, ""))
    head = ["method", "supervision", "full", "occluded"]
    if with_facts:
        head.insert(2, "steps")
    if column:
        head += ["paper full", "paper occluded"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, doc in rows:
        words, supervision, paper_row = METHODS.get(name, (f"`{name}`", "?", None))
        s = doc["summary"]
        cells = [words, supervision, _f(s["miou_full"]), _f(s["miou_occ"])]
        if with_facts:
            cells.insert(2, _run_facts(folder / name))
        if column:
            pf, po = paper["table1"].get(paper_row or "", {}).get(column, (None, None))
            cells += [_f(pf), _f(po)]
        lines.append("| " + " | ".join(cells) + " |")
    pairs = {doc["summary"]["pairs_full"] for _, doc in rows}
    counts = info.get("split_counts", {})
    lines.append("")
    lines.append(f"Test split: {counts.get('test', '?')} videos, "
                 + ", ".join(str(p) for p in sorted(pairs)) + " scored object-frames; dataset "
                 f"`{fingerprint(folder)}` (seed {info.get('seed')}).")
    return "\n".join(lines)


def results_page(results: Path) -> str:
    paper = read_json(results / "paper.json", "paper numbers")
    order = list(SETS)
    sets = sorted((p for p in results.iterdir() if (p / "dataset.json").is_file()),
                  key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name))
    out = ["# Results", "",
           "<!-- generated by `python scripts/results_doc.py` from results/; do not edit by hand -->", "",
           INTRO, ""]
    for folder in sets:
        title, _, make = SETS.get(folder.name, (folder.name, None, ""))
        out += [f"## {title}", ""]
        if make:
            out += [f"Data: `{make}`.", ""]
        out += [set_table(folder, paper), ""]
    out += ["## Reproduce", "",
            "```bash",
            "bash scripts/results.sh          # SETS, METHODS, MINUTES, N choose what runs; it resumes",
            "python scripts/results_doc.py    # this page and the README's table, from results/",
            "```", ""]
    return "\n".join(out)


def headline(results: Path) -> str:
    paper = read_json(results / "paper.json", "paper numbers")
    return "\n".join([BEGIN, set_table(results / HEADLINE, paper, with_facts=False), END])


def with_headline(readme: str, block: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SavosError(f"README.md: no `{BEGIN}` … `{END}` block; add one where the table goes")
    a = readme.index(BEGIN)
    b = readme.index(END) + len(END)
    return readme[:a] + block + readme[b:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--page", type=Path, default=ROOT / "docs" / "results.md")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--check", action="store_true", help="exit 1 if the page or the README is out of date")
    args = ap.parse_args(argv)
    try:
        page = results_page(args.results)
        readme = with_headline(args.readme.read_text(), headline(args.results))
    except SavosError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stale = [p for p, text in ((args.page, page), (args.readme, readme))
             if not p.is_file() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"{p}: out of date; run `python scripts/results_doc.py`", file=sys.stderr)
        return 1 if stale else 0
    for p, text in ((args.page, page), (args.readme, readme)):
        if p in stale:
            p.write_text(text)
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
