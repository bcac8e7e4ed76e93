"""A run's ``metrics.json``: what `savos train` writes as it goes, and the one reader of it.

Fields: ``status`` ("running", "finished", "stopped: ...", "interrupted", "diverged"), ``step``, ``steps``,
``best_step``, ``best_val_loss``, ``last`` (the latest validation record), ``history`` (every validation
record: ``step`` and ``loss_*``/``miou_*`` numbers), ``world_size``, ``seconds_this_process``, ``dataset``
(fingerprints of the training data), and, when it stopped early, ``message``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from savos.readers import FileFormatError, need, read_json

SUMMARY = "metrics.json"


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """Parse and check ``run_dir/metrics.json``; one-line errors name the file and the field."""
    path = Path(run_dir) / SUMMARY
    fix = "it is rewritten at the next validation of `savos train --resume`"
    doc = read_json(path, "run summary", fix)
    need(doc, "status", str, path, fix)
    need(doc, "step", int, path, fix, minimum=0)
    history = need(doc, "history", list, path, fix)
    for i, record in enumerate(history):
        need(record, "step", int, f"{path}: history[{i}]", fix, minimum=0)
        for key, value in record.items():
            if key != "step" and value is not None and not isinstance(value, int | float):
                raise FileFormatError(f"{path}: history[{i}].{key} must be a number, got {value!r:.40}; "
                                      f"{fix}")
    return doc
