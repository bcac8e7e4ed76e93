"""Generate docs/results.md and the README's headline table from the published metrics files.

    python scripts/results_doc.py           # rewrite docs/results.md and the README's table
    python scripts/results_doc.py --check   # exit 1 if either differs from what the files give

Reads ``results/`` (what ``bash scripts/results.sh`` publishes):
- ``results/paper.json``: the paper's Table 1;
- ``results/<set>/dataset.json``: the dataset the set's methods were scored on;
- ``results/<set>/<method>/metrics_<protocol>.json``: a method's scores on its test split (``savos eval``;
  the protocol is the set's, ``savos`` unless PROTOCOLS names another),
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
    "fishbowl-sim-cpu": ("SaVos + carry + L_V, O_t, travelling occluders (`recipes/fishbowl-sim-cpu.yaml`)",
                         "self", "savos"),
    "parked-cars-cpu": ("SaVos + carry + L_V, O_t, travelling occluders (`recipes/parked-cars-cpu.yaml`)",
                        "self", "savos"),
    "union": ("union: the carried visible masks, no learning", "none", None),
    "gum-oracle-unet": ("oracle U-Net (per frame)", "amodal labels", "supervised-oracle"),
    "gum-oracle-savos": ("oracle SaVos (the SaVos network)", "amodal labels", "supervised-oracle"),
}
SETS = {  # set folder -> (title, the paper's column, how the data is made, never-seen column)
    "gum": ("Chewing Gum, default", "chewing-gum", "savos-gen chewing-gum --n 5000 --out data/gum", False),
    "gum-hard": ("Chewing Gum, gum-hard", None,
                 "savos-gen chewing-gum --config recipes/data/gum-hard.yaml --n 5000 --out data/gum-hard",
                 False),
    "gum-dis": ("Chewing Gum with DIS-estimated flow (the default set's clips); union and the carry move the "
                "masks by `mask-align-smooth`", None,
                "savos-gen scene recipes/scenes/gum-dis.yaml --n 5000 --out data/gum-dis", False),
    "fishbowl-sim": ("fishbowl-sim: typed fish, 5-40 % of each never seen", "fishbowl",
                     "savos-gen scene recipes/scenes/fishbowl-sim.yaml --n 1200 --out data/fishbowl-sim",
                     True),
    "parked-cars": ("parked-cars: cars in a row, corners hidden all clip", "kins-video-car",
                    "savos-gen scene recipes/scenes/parked-cars.yaml --n 1200 --out data/parked-cars",
                    True),
}
# the tables of scripts/paper_tables.sh: the paper's Table 1 columns through export and import, Tables 2, 3
for _name, _title, _column in (
        ("table1-fishbowl",
         "Table 1, FISHBOWL column: fishbowl-sim exported as FISHBOWL and imported (DIS flow)", "fishbowl"),
        ("table1-kins",
         "Table 1, KINS-Video-Car column: parked-cars exported as KINS and imported (DIS flow)",
         "kins-video-car"),
        ("table2", "Table 2: an unseen fish type (trained on four, tested on the fifth), with TTA", None),
        ("table3", "Table 3: trained on fishbowl-sim, tested on parked-cars, with TTA", None)):
    SETS[_name] = (_title, _column, "bash scripts/paper_tables.sh", False)
PROTOCOLS = {"table1-kins": "savos-kins", "table3": "savos-kins"}  # set -> its protocol (default savos)
METHODS.update({
    "image-ssl": ("image-ssl (`recipes/fishbowl-sim-image-ssl.yaml`, `parked-cars-image-ssl.yaml`)", "self",
                  "self-deocclusion"),
    "image-ssl+tta": ("image-ssl, adapted per clip (`savos adapt`)", "self", None),
    "savos": ("SaVos (`recipes/fishbowl-sim-cpu.yaml`, `parked-cars-cpu.yaml`)", "self", "savos"),
    "savos+tta": ("SaVos, adapted per clip (`savos adapt`)", "self", None),
    "savos-all-types": ("SaVos trained on all five types", "self", None),
    "savos-fishbowl": ("SaVos trained on fishbowl-sim", "self", None),
    "savos-fishbowl+tta": ("SaVos trained on fishbowl-sim, adapted per clip", "self", None),
    "savos-kins": ("SaVos trained on parked-cars", "self", None),
    "oracle": ("oracle U-Net (amodal labels)", "amodal labels", "supervised-oracle"),
})
HEADLINE = "gum"
INTRO = """\
Every number on this page is read from a metrics file under `results/`, which `bash scripts/results.sh`
publishes: it generates each set, trains each learned method, predicts the test split, scores it with
`savos eval`, and copies the metrics, the run's config and summary and the dataset's `dataset.json` there.
Scores are mIoU under the `savos` protocol (the paper's; [metrics.md](metrics.md)): *full* over the whole
amodal mask, *occluded* over the part other objects hide, on object-frames with an occlusion rate in
(0.1, 0.7); *never seen*, where a set has such parts, over the part of each target that no frame of its
clip shows (only a learned shape prior can complete it; a rule that carries what was seen scores 0).
*steps* is how far a learned method's run trained (and of how many planned, where it stopped
early). The paper's columns are its Tables 1-3 (`results/paper.json`). The methods: [method.md](method.md)."""


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
        path = sub / f"metrics_{PROTOCOLS.get(folder.name, 'savos')}.json"
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

    def rank(name: str) -> tuple[int, str]:  # a set's own recipe S-X sits where gum-X would
        own = name if name in order else f"gum-{name.removeprefix(folder.name + '-')}"
        return (order.index(own) if own in order else len(order), name)

    rows.sort(key=lambda r: rank(r[0]))
    return info, rows


def describe(name: str, set_name: str) -> tuple[str, str, str | None]:
    """(words, supervision, the paper's row) of a method; a set's own recipe S-X of method gum-X is
    described as gum-X, naming the recipe that ran."""
    if name in METHODS:
        return METHODS[name]
    own = name.removeprefix(f"{set_name}-")
    if own != name and f"gum-{own}" in METHODS:
        words, supervision, row = METHODS[f"gum-{own}"]
        words = words.split(" (`recipes/")[0]  # the recipe that ran, not gum-X's
        return f"{words} (`recipes/{name}.yaml`)", supervision, row
    return f"`{name}`", "?", None


def set_table(folder: Path, paper: dict, with_facts: bool = True) -> str:
    info, rows = load_set(folder)
    # never: the set's data is made so that part of each target is never seen
    _, column, _, never = SETS.get(folder.name, (folder.name, None, "", False))
    head = ["method", "supervision", "full", "occluded"] + (["never seen"] if never else [])
    if with_facts:
        head.insert(2, "steps")
    own = paper.get(folder.name, {})  # the paper's numbers by row name (Tables 2 and 3)
    if column or own:
        head += ["paper full", "paper occluded"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, doc in rows:
        words, supervision, paper_row = describe(name, folder.name)
        s = doc["summary"]
        cells = [words, supervision, _f(s["miou_full"]), _f(s["miou_occ"])]
        if never:
            cells.append(_f(s.get("miou_never")))
        if with_facts:
            cells.insert(2, _run_facts(folder / name))
        if column:
            pf, po = paper["table1"].get(paper_row or "", {}).get(column, (None, None))
            cells += [_f(pf), _f(po)]
        elif own:
            pf, po = own.get(name, (None, None))
            cells += [_f(pf), _f(po)]
        lines.append("| " + " | ".join(cells) + " |")
    pairs = {doc["summary"]["pairs_full"] for _, doc in rows}
    counts = info.get("split_counts", {})
    # an imported set has no seed: nothing in it is random
    origin = f"seed {info['seed']}" if info.get("seed") is not None else f"imported, {info.get('generator')}"
    lines.append("")
    lines.append(f"Test split: {counts.get('test', '?')} videos, "
                 + ", ".join(str(p) for p in sorted(pairs)) + " scored object-frames; dataset "
                 f"`{fingerprint(folder)}` ({origin}); protocol "
                 f"`{PROTOCOLS.get(folder.name, 'savos')}`.")
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
        title, _, make, _ = SETS.get(folder.name, (folder.name, None, "", False))
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
