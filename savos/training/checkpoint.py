"""Checkpoints: plain dicts of tensors and numbers, written atomically, read with weights_only=True.

A checkpoint holds ``format``, ``version``, ``step`` (optimizer steps done), ``model`` (state dict of the
bare module, never the DDP wrapper), ``optimizer`` (state dict), ``config`` (the resolved recipe as a
dict), ``best_val_loss``, ``best_step``, ``history`` (list of validation records), ``rng`` (torch CPU and
CUDA generator states as uint8 tensors). The learning rate is a pure function of the step and the data
of step s a pure function of (seed, s, rank), so these are all that resuming needs.

Reading checks every field's type (``check_fields``), and loading checks the weights against the model
that the saved config describes (``load_weights``) and the optimizer state against its parameters
(``load_optimizer``): a damaged or mismatched checkpoint is one line naming the file, never a traceback.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from savos.atomic import write_bytes_atomic
from savos.errors import SavosError, brief
from savos.readers import need

FORMAT = "savos-checkpoint"
VERSION = 1
LAST, BEST = "last.pt", "best.pt"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (savos.atomic): a crash or a full disk leaves the old file,
    and the error is a plain OSError naming the path."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buf)
    return write_bytes_atomic(path, buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", resume: bool = False
                    ) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint (weights_only=True: no code is unpickled) and check
    the type of every field (``check_fields``; ``resume``: the fields resuming needs are required too)."""
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
        raise SavosError(f"{path}: checkpoint version {brief(ckpt.get('version'))} is not supported "
                         f"(expected {VERSION})")
    check_fields(ckpt, path, resume)
    return ckpt


_FIX = "use a checkpoint written by `savos train`"
# field -> (types, needed to resume): what save_checkpoint's callers (savos.training.checkpointer) write
_FIELDS: dict[str, tuple[Any, bool]] = {
    "optimizer": (dict, True), "rng": (dict, True), "history": (list, True), "best_val_loss": (float, True),
    "best_step": (int, True), "level_starts": (list, False), "dataset_id": ((str, type(None)), False),
    "val_loss_at_start": ((float, type(None)), False), "loss_watch": (dict, False),
}


def check_fields(ckpt: dict[str, Any], path: str | Path, resume: bool = False) -> None:
    """One line naming ``path`` and the field unless every field of ``ckpt`` has the type savos writes:
    ``model`` a mapping of names to tensors, ``config`` a mapping, ``step`` a count (always needed), and the
    others of ``_FIELDS`` when present (required with ``resume``)."""
    model = need(ckpt, "model", dict, path, _FIX)
    for name, value in model.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise SavosError(f"{path}: field 'model' must map parameter names to tensors, got "
                             f"{brief(name)}: {type(value).__name__}; {_FIX}")
    need(ckpt, "config", dict, path, _FIX)
    need(ckpt, "step", int, path, _FIX, minimum=0)
    for name, (kind, needed) in _FIELDS.items():
        need(ckpt, name, kind, path, _FIX, optional=not (resume and needed))
    if resume and not isinstance(ckpt["rng"].get("torch"), torch.Tensor):
        raise SavosError(f"{path}: field 'rng' holds no torch generator state; {_FIX}")


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> nn.Module:
    """``model.load_state_dict(state)``, or one line naming ``path`` and the first parameter that does
    not fit (missing, extra, or of another shape) when the weights are not those of the model that the
    checkpoint's own config describes."""
    own = model.state_dict()
    wrong = [f"{k} is {list(state[k].shape)} in the file, {list(v.shape)} in the model"
             for k, v in own.items() if k in state and state[k].shape != v.shape]
    wrong += [f"{k} is missing" for k in own if k not in state]
    wrong += [f"{k} is not in the model" for k in state if k not in own]
    if not wrong:
        try:
            model.load_state_dict(state)
            return model
        except (RuntimeError, ValueError, TypeError) as e:
            wrong = [" ".join(str(e).split())[:160]]
    more = f" and {len(wrong) - 1} more" if len(wrong) > 1 else ""
    raise SavosError(f"{path}: the weights do not fit the model that its config describes "
                     f"({wrong[0]}{more}); {_FIX} and keep its config")


def load_optimizer(optimizer: torch.optim.Optimizer, state: dict[str, Any], path: str | Path) -> None:
    """``optimizer.load_state_dict(state)``, or one line naming ``path`` when the saved state does not fit
    the parameters (another number of groups or parameters, or moments of another shape)."""
    try:
        optimizer.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError, KeyError) as e:
        detail = " ".join(str(e).split())[:160]
        raise SavosError(f"{path}: the optimizer state does not fit the model ({detail}); {_FIX}") from None
    for group in optimizer.param_groups:
        for p in group["params"]:
            for name, value in optimizer.state.get(p, {}).items():
                if isinstance(value, torch.Tensor) and value.ndim and value.shape != p.shape:
                    raise SavosError(f"{path}: the optimizer state does not fit the model ({name} is "
                                     f"{list(value.shape)}, its parameter {list(p.shape)}); {_FIX}")


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
