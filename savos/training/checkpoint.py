"""Checkpoints: plain dicts of tensors and numbers, written atomically, read with weights_only=True.

A checkpoint holds ``format``, ``version``, ``step`` (optimizer steps done), ``model`` (state dict of the
bare module, never the DDP wrapper), ``optimizer`` (state dict), ``config`` (the resolved recipe as a
dict), ``best_val_loss``, ``best_step``, ``history`` (list of validation records), ``rng`` (torch CPU and
CUDA generator states as uint8 tensors). The learning rate is a pure function of the step and the data
of step s a pure function of (seed, s, rank), so these are all that resuming needs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from savos.atomic import write_bytes_atomic
from savos.errors import SavosError

FORMAT = "savos-checkpoint"
VERSION = 1
LAST, BEST = "last.pt", "best.pt"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (savos.atomic): a crash or a full disk leaves the old file,
    and the error is a plain OSError naming the path."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buf)
    return write_bytes_atomic(path, buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint (weights_only=True: no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise SavosError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        # torch's own message suggests weights_only=False, which would let the file run code: we quote
        # only the unpickler's finding, never that advice.
        msg = " ".join(str(e).split())
        detail = msg.split("trusted source.", 1)[-1].split("WeightsUnpickler error:", 1)[-1]
        detail = detail.split("Check the documentation")[0].strip()
        detail = detail.split(". ")[0].rstrip(".")  # its first sentence: the finding, not the advice
        if "global" in detail.lower():
            raise SavosError(f"{path}: refused: the file holds objects other than tensors and numbers "
                             f"({detail[:120]}), which a savos checkpoint never does; use a checkpoint "
                             "written by `savos train`") from None
        raise SavosError(f"{path}: not a readable savos checkpoint ({type(e).__name__}: {detail[:160]}); "
                         "use a checkpoint written by `savos train`") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise SavosError(f"{path}: not a savos checkpoint")
    if ckpt.get("version") != VERSION:
        raise SavosError(f"{path}: checkpoint version {ckpt.get('version')!r} is not supported "
                         f"(expected {VERSION})")
    return ckpt


def find_checkpoint(run_dir: str | Path) -> Path:
    """``best.pt`` of a run folder, else ``last.pt``."""
    run_dir = Path(run_dir)
    for name in (BEST, LAST):
        if (run_dir / name).is_file():
            return run_dir / name
    if not run_dir.is_dir():
        raise SavosError(f"{run_dir}: no such run folder; train one with "
                         f"`savos train RECIPE.yaml --out {run_dir}`")
    raise SavosError(f"{run_dir}: holds no checkpoint ({BEST} or {LAST}); train or resume the run first")


def rng_state() -> dict[str, Any]:
    """torch generator states as tensors (numpy is never used with global state in savos)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": list(cuda)}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
