"""The prediction format: what `savos predict` and every baseline write, and what `savos eval` reads.

A prediction folder holds one ``<clip key>.npz`` per clip and a ``predictions.json`` written last
(so a folder without it is an interrupted run). Each ``.npz`` (numpy's zip of arrays, deflate-compressed)
holds:

- ``amodal_bits`` uint8 (ceil(T*K*H*W / 8),): ``np.packbits`` of the bool amodal masks (T, K, H, W),
  C order, big bit order (numpy's default);
- ``shape`` int64 (4,): (T, K, H, W);
- ``predicted`` bool (K,): which objects were predicted (the clip's targets); masks of the others are
  all False and are not scored;
- ``key`` str (): the clip key the prediction is of, and ``dataset_id`` str (): the fingerprint of the
  dataset it was made on. ``load`` refuses a file whose key is not its name's or whose dataset is not the
  one ``predictions.json`` records, so files swapped, renamed or mixed in from another folder never score.

Every file is written to a temporary name in the same folder and renamed when complete. The full
description, with ``predictions.json``'s fields, is docs/predictions.md.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from savos import __version__
from savos.atomic import write_bytes_atomic
from savos.data import fingerprint
from savos.errors import SavosError, brief
from savos.outputs import OwnedDir, check_writable, describe
from savos.readers import FileFormatError, need, read_json

FORMAT = "savos-predictions"
FORMAT_VERSION = 3  # 2: dataset_id recorded and checked; 3: each clip file records its key and dataset_id
INFO_NAME = "predictions.json"
SUFFIX = ".npz"
MAX_FILE_BYTES = 1 << 31  # a bound on one clip's file, checked before reading it
_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _check_key(key: str) -> None:
    # A key becomes a file name: refuse anything that could leave the folder or hide as a temp file.
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise SavosError(f"invalid clip key {key!r} for a prediction file (letters, digits, _ . - only)")


def create_prediction_dir(pred_dir: str | Path, overwrite: bool = False, keys: Iterable[str] = (),
                          command: str = "savos") -> Path:
    """Make ``pred_dir`` ready for writing the predictions of clips ``keys``.

    Ownership (savos.outputs): files that savos commands wrote there are listed in the folder's
    manifest. Those of this kind of output are replaced only with ``overwrite``; a folder holding
    another kind of output (a run, a dataset) or anything savos did not write is refused, naming what
    is there, with or without ``overwrite`` (nothing of the user's or of another command is deleted).
    The caller holds the folder (``savos.outputs.open_output``).
    The names about to be written (``<key>.npz``, predictions.json) are claimed before writing.
    """
    pred_dir = check_writable(pred_dir)
    folder = OwnedDir(pred_dir, command)
    folder.check_kind()
    foreign = folder.foreign()
    if foreign:
        raise SavosError(f"--out {pred_dir}: holds {describe(foreign)}, which savos did not write; savos "
                         "deletes only its own files: choose an empty or new --out folder")
    existing = sorted(n for n in folder.mine() if (pred_dir / n).exists())
    if existing and not overwrite:
        raise SavosError(f"--out {pred_dir}: already holds savos outputs ({describe(existing)}); pass "
                         "--overwrite to replace them or choose another --out folder")
    folder.remove(folder.mine())
    pred_dir.mkdir(parents=True, exist_ok=True)
    keys = list(keys)
    for key in keys:
        _check_key(key)
    folder.claim([INFO_NAME, *(f"{k}{SUFFIX}" for k in keys)])
    return pred_dir


def claim(pred_dir: str | Path, names: Iterable[str], command: str = "savos") -> None:
    """Claim extra files a command writes into a prediction folder (its pending record, metrics)."""
    OwnedDir(pred_dir, command).claim(names)


def write_prediction(pred_dir: str | Path, key: str, amodal: np.ndarray, predicted: np.ndarray,
                     dataset_id: str) -> Path:
    """Write one clip's prediction atomically to ``pred_dir/<key>.npz``.

    Args:
        amodal: bool (T, K, H, W), the predicted amodal mask of object k + 1 at frame t.
        predicted: bool (K,), which objects were predicted; the masks of the others must be all False.
        dataset_id: ``savos.data.fingerprint`` of the dataset the clip is from (recorded with the key).
    """
    _check_key(key)
    if not isinstance(dataset_id, str) or not dataset_id:
        raise ValueError(f"dataset_id must be the dataset's fingerprint, got {dataset_id!r}")
    amodal = np.asarray(amodal)
    predicted = np.asarray(predicted)
    if amodal.dtype != np.bool_ or amodal.ndim != 4:
        raise ValueError(f"amodal must be bool (T, K, H, W), got {amodal.dtype} {amodal.shape}")
    K = amodal.shape[1]
    if predicted.dtype != np.bool_ or predicted.shape != (K,):
        raise ValueError(f"predicted must be bool ({K},), got {predicted.dtype} {predicted.shape}")
    if amodal[:, ~predicted].any():
        raise ValueError("amodal masks of objects not marked predicted must be all False")
    buf = io.BytesIO()
    np.savez_compressed(buf, amodal_bits=np.packbits(amodal.reshape(-1)),
                        shape=np.asarray(amodal.shape, dtype=np.int64), predicted=predicted,
                        key=np.asarray(key), dataset_id=np.asarray(dataset_id))
    path = Path(pred_dir) / f"{key}{SUFFIX}"
    write_bytes_atomic(path, buf.getvalue())
    return path


def write_prediction_info(pred_dir: str | Path, info: Mapping[str, Any]) -> Path:
    """Write ``predictions.json`` (last, atomically). ``info`` holds at least ``method``; typical keys:
    ``source`` (run/checkpoint or None), ``data_root``, ``split``, ``num_clips``, ``num_objects``.
    ``format``, ``format_version`` and ``created_by`` are filled in here."""
    if "method" not in info:
        raise ValueError("prediction info needs a 'method'")
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, "created_by": f"savos {__version__}",
            **dict(info)}
    path = Path(pred_dir) / INFO_NAME
    write_bytes_atomic(path, (json.dumps(full, indent=1, sort_keys=True, default=str) + "\n").encode())
    return path


class Predictions:
    """A prediction folder opened for reading: ``.info``, ``.keys()``, ``.has(key)``, ``.load(key)``."""

    def __init__(self, pred_dir: str | Path):
        self.root = Path(pred_dir)
        path = self.root / INFO_NAME
        if not self.root.is_dir():
            raise SavosError(f"{self.root}: no such prediction folder; write one with `savos predict` "
                             "or `savos baseline`")
        if not path.is_file():
            raise SavosError(f"{path}: missing; {self.root} is not a finished prediction folder "
                             "(re-run the `savos predict` or `savos baseline` command that made it)")
        fix = "re-run the `savos predict` or `savos baseline` command that made it"
        self.info: dict[str, Any] = read_json(path, "prediction description", fix)
        if need(self.info, "format", str, path, fix) != FORMAT:
            raise FileFormatError(f"{path}: format is {self.info['format']!r}, not {FORMAT!r}; {fix}")
        if need(self.info, "format_version", int, path, fix) != FORMAT_VERSION:
            raise SavosError(f"{path}: format version {self.info.get('format_version')!r} is not supported "
                             f"(expected {FORMAT_VERSION}); re-run the predictions with this savos")
        need(self.info, "method", str, path, fix)
        for key in ("split", "data_root"):
            need(self.info, key, str, path, fix, optional=True)
        need(self.info, "dataset_id", str, path, "re-run the predictions with this savos")
        need(self.info, "num_clips", int, path, fix, minimum=0, optional=True)
        need(self.info, "num_objects", int, path, fix, minimum=0, optional=True)
        self._keys = sorted(p.name[: -len(SUFFIX)] for p in self.root.glob(f"*{SUFFIX}")
                            if not p.name.startswith("."))
        n = self.info.get("num_clips")
        if n is not None and n != len(self._keys):
            raise SavosError(f"{path}: says {n} clips but the folder holds {len(self._keys)} prediction "
                             "files; re-run the command that made it")

    def keys(self) -> list[str]:
        return list(self._keys)

    def has(self, key: str) -> bool:
        return (self.root / f"{key}{SUFFIX}").is_file()

    def __len__(self) -> int:
        return len(self._keys)

    def load(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """-> (amodal bool (T, K, H, W), predicted bool (K,)) of clip ``key``. SavosError names a missing
        or corrupt file, and a file that holds another clip or was made on another dataset."""
        _check_key(key)
        path = self.root / f"{key}{SUFFIX}"
        if not path.is_file():
            raise SavosError(f"{path}: missing prediction for clip {key}; re-run the predictions "
                             "for this dataset and split")
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"{path.stat().st_size} bytes is more than any prediction file")
            with np.load(path, allow_pickle=False) as z:
                bits, shape, predicted = z["amodal_bits"], z["shape"], z["predicted"]
                made_of, made_on = _text(z, "key"), _text(z, "dataset_id")
            if shape.ndim != 1 or shape.dtype.kind not in "iu" or shape.size != 4:
                raise ValueError(f"shape is {shape.dtype} {shape.shape}, not the 4 integers (T, K, H, W)")
            shape = tuple(int(s) for s in shape)
            if min(shape) < 0 or np.prod(np.array(shape, dtype=np.float64)) > 8 * 2**34:
                raise ValueError(f"shape {shape} is not a plausible (T, K, H, W)")
            n = int(np.prod(shape))
            if bits.dtype != np.uint8 or bits.shape != ((n + 7) // 8,):
                raise ValueError(f"amodal_bits {bits.dtype} {bits.shape} do not fit shape {shape}")
            if predicted.dtype != np.bool_ or predicted.shape != (shape[1],):
                raise ValueError(f"predicted is {predicted.dtype} {predicted.shape}, not bool ({shape[1]},)")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise SavosError(f"{path}: corrupt prediction file ({type(e).__name__}: {brief(str(e), 160)}); "
                             "delete it and re-run the predictions") from None
        if made_of != key:
            raise SavosError(f"{path}: holds the prediction of clip {made_of[:64]}, not {key} (files "
                             "swapped or renamed); re-run the predictions into a new folder")
        if made_on != self.info["dataset_id"]:
            raise SavosError(f"{path}: was made on dataset {made_on[:64]}, but {INFO_NAME} records "
                             f"{self.info['dataset_id']} (a file of another prediction folder); re-run the "
                             "predictions into a new folder")
        return np.unpackbits(bits, count=n).astype(bool).reshape(shape), predicted

    def check_made_on(self, data_root: str | Path, split: str) -> None:
        """Refuse to read these predictions against another dataset or split than they were made on."""
        here = fingerprint(data_root)
        if self.info["dataset_id"] != here:
            raise SavosError(f"{self.root}: predictions were made on dataset {self.info.get('data_root')} "
                             f"(id {self.info['dataset_id']}), not on {data_root} (id {here}); use them "
                             "with the dataset they were made on")
        if self.info.get("split") not in (None, split):
            raise SavosError(f"{self.root}: predictions were made on split {self.info['split']!r}, "
                             f"not {split!r}; pass the matching --split")

    def __repr__(self) -> str:
        return f"Predictions(root={str(self.root)!r}, method={self.info.get('method')!r}, clips={len(self)})"


def open_predictions(pred_dir: str | Path) -> Predictions:
    """Open a prediction folder written by `savos predict` or `savos baseline`."""
    return Predictions(pred_dir)


def _text(z: Any, name: str) -> str:
    """The 0-d string member ``name`` of an open .npz (ValueError when it is anything else)."""
    value = z[name]
    if value.dtype.kind != "U" or value.ndim != 0:
        raise ValueError(f"{name} is {value.dtype} {value.shape}, not a string")
    return str(value)
