"""`savos eval`: score a prediction folder against one split of a dataset under a named protocol.

Writes, next to the predictions (or in ``out_dir``):
- ``metrics_<protocol>.json``: summary, per-bucket and per-type breakdowns, and where they came from;
- ``metrics_<protocol>.csv``: the same numbers as rows (section = summary | bucket | type);
- ``pairs_<protocol>.csv.gz``: the per-pair records (one row per target object and frame).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tqdm import tqdm

from savos import __version__
from savos.atomic import write_bytes_atomic, write_json_atomic
from savos.data import fingerprint, open_dataset
from savos.errors import SavosError
from savos.evaluation.metrics import PROTOCOLS, PairRecords, breakdowns, score_clip, summarize
from savos.evaluation.predictions import INFO_NAME, Predictions, open_predictions
from savos.outputs import OwnedDir, open_output
from savos.readers import need, read_json

NUMBERS = ["miou_full", "miou_occ", "miou_never", "metric1_full", "metric1_occ", "metric1_never",
           "metric2_full", "metric2_occ", "metric2_never", "pairs_full", "pairs_occ", "pairs_never"]


@dataclass
class EvalResult:
    protocol: str
    method: str
    summary: dict[str, Any]  # summarize() numbers plus num_clips
    by_bucket: list[dict[str, Any]]
    by_type: list[dict[str, Any]]
    records: PairRecords
    meta: dict[str, Any] = field(default_factory=dict)  # predictions, data_root, split, source, ...
    files: list[Path] = field(default_factory=list)


def provenance(preds: Predictions, data_root: Path, split: str) -> dict[str, str]:
    """What a score depends on: the dataset's fingerprint, the split, the exact predictions.json. Metrics
    files record it; cached metrics are reused only when it matches."""
    info_bytes = (preds.root / INFO_NAME).read_bytes()
    return {"dataset_id": fingerprint(data_root), "split": split,
            "predictions_sha256": hashlib.sha256(info_bytes).hexdigest()}


def check_same_dataset(preds: Predictions, data_root: Path, split: str) -> None:
    """Refuse to score predictions against another dataset or split than they were made on (each clip
    file is tied to the same dataset by ``Predictions.load``)."""
    preds.check_made_on(data_root, split)


def _check_keys(ds, preds: Predictions, data_root: Path, split: str) -> None:
    where = f"split {split!r} of {data_root}"
    check_same_dataset(preds, data_root, split)
    if len(preds) != len(ds):
        raise SavosError(f"{preds.root}: {len(preds)} clip predictions but {where} has {len(ds)} clips; "
                         "predict the same dataset and split")
    locate = getattr(ds, "locate", None)  # cheap key listing when the dataset offers it
    if locate is not None:
        missing = [k for k in (locate(i)[1] for i in range(len(ds))) if not preds.has(k)]
        if missing:
            raise SavosError(f"{preds.root}: no prediction for {len(missing)} clips of {where} "
                             f"(first: {missing[0]}); predict the same dataset and split")


def _check_clip(clip, amodal, predicted, preds: Predictions) -> None:
    path = preds.root / f"{clip.key}.npz"
    if amodal.shape != clip.amodal.shape:
        raise SavosError(f"{path}: prediction shape {amodal.shape} does not match clip {clip.key} "
                         f"{clip.amodal.shape} (T, K, H, W); predict the same dataset")
    missing = [k for k in clip.target_ids() if not predicted[k]]
    if missing:
        raise SavosError(f"{path}: target object {missing[0]} of clip {clip.key} was not predicted; "
                         "re-run the predictions")


def evaluate(pred_dir: str | Path, data_root: str | Path, split: str = "test", protocol: str = "savos",
             out_dir: str | Path | None = None, progress: bool = True, write: bool = True) -> EvalResult:
    """Score ``pred_dir`` against ``split`` of ``data_root``; write the metrics files unless write=False."""

    if protocol not in PROTOCOLS:
        raise SavosError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    data_root, pred_dir = Path(data_root), Path(pred_dir)
    preds = open_predictions(pred_dir)
    ds = open_dataset(data_root, split)
    _check_keys(ds, preds, data_root, split)
    out = Path(out_dir) if out_dir is not None else pred_dir
    if not write:
        return _score(preds, ds, pred_dir, data_root, split, protocol, progress)
    with open_output(out, "savos eval") as folder:
        folder.refuse_collisions(result_names(protocol))
        result = _score(preds, ds, pred_dir, data_root, split, protocol, progress)
        result.files = write_results(result, out)
    return result


def _score(preds, ds, pred_dir: Path, data_root: Path, split: str, protocol: str, progress: bool
           ) -> EvalResult:
    parts = []
    for i in tqdm(range(len(ds)), desc=f"eval {protocol}", unit="clip", disable=not progress):
        clip = ds[i]
        if not preds.has(clip.key):
            raise SavosError(f"{pred_dir}: no prediction for clip {clip.key} of split {split!r} of "
                             f"{data_root}; predict the same dataset and split")
        amodal, predicted = preds.load(clip.key)
        _check_clip(clip, amodal, predicted, preds)
        parts.append(score_clip(clip, amodal, protocol))
    records = PairRecords.concat(parts)
    by_bucket, by_type = breakdowns(records, protocol)
    result = EvalResult(
        protocol=protocol, method=str(preds.info.get("method", "unknown")),
        summary={**summarize(records, protocol), "num_clips": len(ds)}, by_bucket=by_bucket, by_type=by_type,
        records=records,
        meta={"predictions": str(pred_dir), "data_root": str(data_root), "split": split,
              "source": preds.info.get("source"), "created_by": f"savos {__version__}",
              "fingerprint": provenance(preds, data_root, split)})
    return result


def read_metrics(path: str | Path) -> dict[str, Any]:
    """Read and check a ``metrics_<protocol>.json`` (the one reader of the format); one-line errors name
    the file and the field."""
    path = Path(path)
    fix = "delete it; `savos eval` writes it again"
    doc = read_json(path, "metrics file", fix)
    summary = need(doc, "summary", dict, path, fix)
    for key in ("miou_full", "miou_occ", "metric2_full", "metric2_occ"):
        need(summary, key, (float, type(None)), f"{path}: summary", fix)
    for key in ("pairs_full", "pairs_occ"):
        need(summary, key, int, f"{path}: summary", fix, minimum=0)
    for row in need(doc, "by_bucket", list, path, fix):
        need(row, "bucket", str, f"{path}: by_bucket", fix)
    need(doc, "fingerprint", dict, path, fix)
    return doc


def result_names(protocol: str) -> list[str]:
    return [f"metrics_{protocol}.json", f"metrics_{protocol}.csv", f"pairs_{protocol}.csv.gz"]


def write_results(result: EvalResult, out_dir: Path) -> list[Path]:
    folder = OwnedDir(out_dir, "savos eval")
    folder.refuse_collisions(result_names(result.protocol))
    folder.claim(result_names(result.protocol))
    p = result.protocol
    doc = {"protocol": p, "method": result.method, **result.meta, "summary": result.summary,
           "by_bucket": result.by_bucket, "by_type": result.by_type}
    json_path = out_dir / f"metrics_{p}.json"
    write_json_atomic(json_path, doc)

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "subset", "name", *NUMBERS])
    w.writerow(["summary", "protocol", result.method, *(result.summary[n] for n in NUMBERS)])
    for row in result.by_bucket:
        w.writerow(["bucket", row["subset"], row["bucket"], *(row[n] for n in NUMBERS)])
    for row in result.by_type:
        w.writerow(["type", "protocol", row["type"], *(row[n] for n in NUMBERS)])
    csv_path = out_dir / f"metrics_{p}.csv"
    write_bytes_atomic(csv_path, buf.getvalue().encode())

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[f.name for f in fields(PairRecords)], lineterminator="\n")
    w.writeheader()
    w.writerows(result.records.rows())
    pairs_path = out_dir / f"pairs_{p}.csv.gz"
    write_bytes_atomic(pairs_path, gzip.compress(buf.getvalue().encode(), mtime=0))
    return [json_path, csv_path, pairs_path]


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.4f}"


def format_table(result: EvalResult) -> str:
    """The summary as a small text table (what `savos eval` prints): a header line, the method's row,
    and a line that explains the columns."""
    s = result.summary
    head = ["method", "protocol", "full mIoU", "occ mIoU", "never-seen mIoU", "frame-avg full/occ",
            "pair-avg full/occ", "object-frames full/occ/never-seen"]
    row = [result.method, result.protocol, _fmt(s["miou_full"]), _fmt(s["miou_occ"]), _fmt(s["miou_never"]),
           f"{_fmt(s['metric1_full'])}/{_fmt(s['metric1_occ'])}",
           f"{_fmt(s['metric2_full'])}/{_fmt(s['metric2_occ'])}",
           f"{s['pairs_full']}/{s['pairs_occ']}/{s['pairs_never']}"]
    widths = [max(len(a), len(b)) for a, b in zip(head, row, strict=True)]
    widths[0] = max(widths[0], 16)  # rows of several `savos eval` runs printed together stay aligned
    lines = ["  ".join(c.ljust(n) for c, n in zip(r, widths, strict=True)).rstrip() for r in (head, row)]
    headline = "frame-avg" if PROTOCOLS[result.protocol].headline == "metric1" else "pair-avg"
    lines.append(f"(mIoU = {headline} under this protocol; frame-avg: mean over the objects of a frame, then "
                 "over frames; pair-avg: mean over all object-frames; never-seen: the part no frame of the "
                 "clip shows; docs/metrics.md)")
    return "\n".join(lines)
