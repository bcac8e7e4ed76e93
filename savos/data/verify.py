"""Check a whole dataset folder: checksums, member layout, every clip's contract, and (through a
generator-specific ``check``) the generator's own guarantees; gather statistics on the way: occlusion
rates, coverage, and how guessable the hidden parts are from one frame (guessability.py)."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from savos.data.clip import Clip, clip_key
from savos.data.codec import decode_clip
from savos.data.dataset import read_info
from savos.data.guessability import clip_guessability, format_summary, summarize
from savos.data.shards import ShardReader, sha256_file
from savos.errors import SavosError

Check = Callable[[Clip], list[str]]  # a clip -> its problems (empty: fine); must be picklable


class Findings(list):
    """What a ``Check`` may return instead of a plain list: the problems (the list itself) and what it
    measured, ``measures`` label -> (sum, weight); the report gives sum / weight over the dataset (e.g.
    the error of a generator's estimated flow against its exact flow)."""

    def __init__(self, problems: Iterable[str] = (), measures: dict[str, tuple[float, float]] | None = None):
        super().__init__(problems)
        self.measures = dict(measures or {})
BINS = np.linspace(0.0, 1.0, 11)  # occlusion-rate histogram: [0, .1), ..., [.9, 1]


def _verify_shard(root: Path, info: dict, check: Check | None, item: tuple[str, dict]) -> dict[str, Any]:
    split, shard = item
    path = root / split / shard["name"]
    out: dict[str, Any] = {"problems": [], "clips": 0, "bytes": 0, "hist": np.zeros(10, np.int64),
                           "fully_visible": 0, "pairs": 0, "coverage": [], "never_seen": [], "guess": [],
                           "measures": {},
                           "measured": 0}
    if not path.is_file():
        out["problems"].append(f"{path}: missing")
        return out
    out["bytes"] = path.stat().st_size
    if sha256_file(path) != shard["sha256"]:
        out["problems"].append(f"{path}: checksum mismatch (corrupt or changed)")
        return out
    reader = ShardReader(path)
    try:
        keys = reader.keys()
        expected = [clip_key(shard["first_index"] + j) for j in range(shard["count"])]
        if keys != expected:
            out["problems"].append(f"{path}: holds clips {keys[:3]}..., expected {expected[:3]}...")
            return out
        for j, key in enumerate(keys):
            where = f"{path}: clip {key}"
            try:
                clip = decode_clip(reader.read(key))
            except SavosError as e:
                out["problems"].append(f"{where}: {e}")
                continue
            meta = clip.meta
            for field, want in (("index", shard["first_index"] + j), ("split", split),
                                ("seed", info.get("seed")), ("generator", info.get("generator")),
                                ("config", info.get("config"))):
                if meta.get(field) != want:
                    got, exp = repr(meta.get(field))[:80], repr(want)[:80]
                    out["problems"].append(f"{where}: meta.{field} is {got}, expected {exp} (dataset.json)")
            if check is not None:
                found = check(clip)
                out["problems"].extend(f"{where}: {p}" for p in found)
                if getattr(found, "measures", None):
                    _add_measures(out["measures"], found.measures)
                    out["measured"] += 1
            targets = clip.target_ids()
            rate = clip.occlusion_rate()[:, targets]  # (T, targets)
            # statistics of pairs with amodal truth only (imported data is partly annotated)
            present = clip.amodal[:, targets].any(axis=(2, 3)) & clip.amodal_known[:, targets]
            out["hist"] += np.histogram(np.clip(rate[present], 0, 1), bins=BINS)[0]
            out["pairs"] += int(present.sum())
            out["fully_visible"] += int((rate[present] == 0).sum())
            for k in targets:
                obj = (meta.get("objects") or [{}] * clip.num_objects)[k]
                if obj.get("coverage") is not None:
                    out["coverage"].append(float(obj["coverage"]))
                if obj.get("never_seen") is not None:
                    out["never_seen"].append(float(obj["never_seen"]))
            guess = clip_guessability(clip)
            guess.reach = None  # the per-pixel map is not needed for the statistics
            out["guess"].append(guess)
            out["clips"] += 1
    except SavosError as e:
        out["problems"].append(str(e))
    return out


def _check_description(root: Path, info: dict, check_config: Callable[[dict], None] | None) -> list[str]:
    """Problems of dataset.json itself that read_info lets pass: splits missing or changed against the
    counts the writer recorded, clip indices that do not run across splits, an invalid config."""
    path, problems = root / "dataset.json", []
    recorded = info.get("split_counts")
    if not isinstance(recorded, dict):
        problems.append(f"{path}: field 'split_counts' (what the generator was asked for) is missing")
    else:
        counts = {k: v["count"] for k, v in info["splits"].items()}
        for split in recorded.keys() | counts.keys():
            if recorded.get(split) != counts.get(split):
                problems.append(f"{path}: split {split!r} has {counts.get(split, 'no')} clips listed, but "
                                f"{recorded.get(split, 'none')} were made")
    first = 0  # clip indices run across the splits (dataset.json lists them sorted by name)
    for split, sp in sorted(info["splits"].items(), key=lambda item: item[1]["first_index"]):
        if sp["first_index"] != first:
            problems.append(f"{path}: split {split!r} starts at clip {sp['first_index']}, expected {first}")
        first = sp["first_index"] + sp["count"]
    if check_config is not None:
        try:
            check_config(info.get("config"))
        except SavosError as e:
            problems.append(f"{path}: invalid generator config: {e}")
    return problems


def verify_dataset(root: str | Path, check: Check | None = None, workers: int | None = None,
                   progress: bool = True, check_config: Callable[[dict], None] | None = None
                   ) -> dict[str, Any]:
    """Verify every shard of every split. Returns {"problems": [...], "stats": {...}}.

    ``check_config`` (optional) raises SavosError unless the stored generator config is valid; every
    clip's ``meta["config"]`` must also equal the stored config.
    """

    root = Path(root)
    info = read_info(root)
    items = [(split, s) for split, sp in info["splits"].items() for s in sp["shards"]]
    problems: list[str] = _check_description(root, info, check_config)
    work = partial(_verify_shard, root, info, check)
    workers = max(1, min(workers or os.cpu_count() or 1, len(items)))
    total = {"clips": 0, "bytes": 0, "hist": np.zeros(10, np.int64), "fully_visible": 0, "pairs": 0,
             "coverage": [], "never_seen": [], "guess": [], "measures": {}, "measured": 0}
    with tqdm(total=sum(s["count"] for _, s in items), unit="clip", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        if workers == 1:
            results = map(work, items)
            for r, (_, s) in zip(results, items, strict=True):
                _merge(total, problems, r)
                bar.update(s["count"])
        else:
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            with mp.get_context(method).Pool(workers) as pool:
                for r, (_, s) in zip(pool.imap(work, items), items, strict=True):
                    _merge(total, problems, r)
                    bar.update(s["count"])
    cov = np.array(total["coverage"]) if total["coverage"] else None
    stats = {
        "clips": total["clips"],
        "splits": {k: v["count"] for k, v in info["splits"].items()},
        "mb_per_clip": total["bytes"] / max(total["clips"], 1) / 1e6,
        "total_mb": total["bytes"] / 1e6,
        "target_frames": total["pairs"],
        "fully_visible_frames": total["fully_visible"],
        "occlusion_hist": {f"{a:.1f}-{b:.1f}": int(c)
                           for a, b, c in zip(BINS[:-1], BINS[1:], total["hist"], strict=True)},
        "coverage_min": None if cov is None else float(cov.min()),
        "coverage_mean": None if cov is None else float(cov.mean()),
        "never_seen": _quantiles(total["never_seen"]),
        "guessability": summarize(total["guess"]),
    }
    if total["measured"]:  # only datasets whose checker measures something (estimated flow, a codec)
        stats["measured_clips"] = total["measured"]
        stats["measures"] = {k: s / w if w else None for k, (s, w) in total["measures"].items()}
    return {"problems": problems, "stats": stats}


def _quantiles(values: list[float]) -> dict[str, float] | None:
    """min, quantiles 0.1 / 0.5 / 0.9, max and mean of the targets' never-seen shares (None: none)."""
    if not values:
        return None
    v = np.asarray(values)
    return {"targets": len(v), "min": float(v.min()), "0.1": float(np.quantile(v, 0.1)),
            "0.5": float(np.quantile(v, 0.5)), "0.9": float(np.quantile(v, 0.9)), "max": float(v.max()),
            "mean": float(v.mean())}


def _add_measures(into: dict[str, list[float]], measures: dict[str, tuple[float, float]]) -> None:
    for label, (s, w) in measures.items():
        acc = into.setdefault(label, [0.0, 0.0])
        acc[0] += s
        acc[1] += w


def _merge(total: dict, problems: list[str], r: dict) -> None:
    problems.extend(r["problems"])
    for k in ("clips", "bytes", "fully_visible", "pairs", "measured"):
        total[k] += r[k]
    _add_measures(total["measures"], r["measures"])
    total["hist"] += r["hist"]
    total["coverage"].extend(r["coverage"])
    total["never_seen"].extend(r["never_seen"])
    total["guess"].extend(r["guess"])


def format_report(report: dict[str, Any]) -> str:
    s = report["stats"]
    lines = [f"clips: {s['clips']} ({', '.join(f'{k} {v}' for k, v in s['splits'].items())}); "
             f"{s['total_mb']:.1f} MB, {s['mb_per_clip'] * 1000:.1f} kB per clip"]
    if s.get("measures"):
        lines.append(f"estimated against the exact truth ({s['measured_clips']} clips; meta says what is "
                     "estimated):")
        lines += [f"  {label}: {'n/a' if v is None else f'{v:.3f}'}" for label, v in s["measures"].items()]
    if not s["target_frames"]:  # e.g. imported data whose objects have no amodal masks
        lines.append("target object-frames with amodal truth: none, so no occlusion statistics "
                     "(the clips record visible masks only)")
        return "\n".join(lines)
    lines.append(f"target object-frames with amodal truth: {s['target_frames']}, fully visible: "
                 f"{s['fully_visible_frames']}")
    if s["coverage_min"] is not None:
        lines.append(f"coverage of target shapes over the clip: min {s['coverage_min']:.4f}, "
                     f"mean {s['coverage_mean']:.4f}")
    if s.get("never_seen"):
        n = s["never_seen"]
        lines.append(f"never-seen share of target shapes ({n['targets']} targets; the share of the shape no "
                     f"frame shows): min {n['min']:.3f}, 0.1: {n['0.1']:.3f}, median {n['0.5']:.3f}, "
                     f"0.9: {n['0.9']:.3f}, max {n['max']:.3f}, mean {n['mean']:.3f}")
    n = s["target_frames"]
    lines.append("occlusion rate of target object-frames:")
    for label, c in s["occlusion_hist"].items():
        lines.append(f"  {label}  {c:7d}  {100 * c / n:5.1f}%  {'#' * round(40 * c / n)}")
    lines += format_summary(s["guessability"])
    return "\n".join(lines)
