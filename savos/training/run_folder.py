"""The run folder a training writes: checked before any work, owned file by file, and, for ``--resume``,
the checkpoint whose config must match the one given (up to the keys that only change speed or logging)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from savos.config import Config, config_from_dict, config_to_dict
from savos.errors import SavosError
from savos.outputs import OwnedDir, check_writable, describe
from savos.training import sources
from savos.training.checkpoint import BEST, LAST, load_checkpoint
from savos.training.summary import SUMMARY

# Config keys that may differ on --resume: they change speed, logging or where data lives, not the numbers.
# The adapt section (test-time adaptation, used by `savos adapt` only) may change too.
RESUME_MAY_CHANGE = {"train.max_minutes", "train.device", "train.threads", "train.log_every", "train.images",
                     "train.val_every", "data.workers", "data.root"}

RUN_FILES = ["config.yaml", LAST, BEST, SUMMARY]


def check_run_dir(run_dir: Path, resume: bool, config: Config) -> dict[str, Any] | None:
    """Check the run folder before any work; -> the checkpoint to resume from (or None)."""
    root = Path(config.data.root)
    if sources.resolve(config.data.root, config.data.val_root, config.train.seed).kind == "missing":
        frames = f" --frames {config.data.window}" if config.data.window > 16 else ""  # generator default 16
        raise SavosError(f"{config.source or 'recipe'}: data.root: no dataset at {root}; make one with "
                         f"`savos-gen chewing-gum --out {root}{frames}` or pass --set data.root=DIR")
    check_writable(run_dir)
    if not resume:
        if (run_dir / LAST).exists():
            raise SavosError(f"{run_dir}: already holds a run ({LAST}); pass --resume to continue it "
                             "or choose another --out")
        folder = OwnedDir(run_dir, "savos train")
        # A checkpoint of an earlier run without its last.pt (deleted, or moved): a new run would replace
        # it. A run stopped before its first checkpoint (config.yaml, events, metrics.json) starts afresh.
        kept = sorted(n for n in folder.mine() if n.endswith(".pt") and (run_dir / n).exists())
        if kept:
            raise SavosError(f"{run_dir}: holds {describe(kept)} of an earlier run but no {LAST} to resume "
                             "from; savos will not replace it: move it or choose another --out")
        folder.refuse_collisions(RUN_FILES)
        return None
    if not (run_dir / LAST).is_file():
        raise SavosError(f"{run_dir / LAST}: nothing to resume; drop --resume to start a new run")
    ckpt = load_checkpoint(run_dir / LAST, resume=True)
    # The saved config is resolved again, so keys added to the schema since (with their defaults) compare
    # equal to a run that never had them.
    try:
        resolved = config_to_dict(config_from_dict(ckpt["config"], source=str(run_dir / LAST)))
    except SavosError:
        resolved = ckpt["config"]
    saved, now = _flat(resolved), _flat(config_to_dict(config))
    diff = [k for k in sorted(saved.keys() | now.keys()) if saved.get(k) != now.get(k)
            and k not in RESUME_MAY_CHANGE and not k.startswith("adapt.")]
    if diff:
        k = diff[0]
        raise SavosError(f"{run_dir / LAST}: --resume with a different config ({k}: {saved.get(k)!r} -> "
                         f"{now.get(k)!r}{f' and {len(diff) - 1} more' if len(diff) > 1 else ''}); only "
                         f"{', '.join(sorted(RESUME_MAY_CHANGE))} may change")
    return ckpt


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out
