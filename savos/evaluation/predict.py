"""Predicting amodal masks of a dataset split with a trained run.

    savos predict runs/gum-cpu data/gum --split test --out preds/gum-cpu

Loads ``best.pt`` of the run (else ``last.pt``), builds the model from the config saved in the checkpoint,
runs every target object's whole track through it (the model is recurrent over the full clip: no
windows), pastes the crop probabilities back onto the frame with the exact inverse of the crop
(``savos.tracks.paste_back``), thresholds at 0.5 and writes one prediction file per clip
(savos.evaluation.predictions). Resumable: an interrupted run leaves whole files plus ``.predict.json`` (its
settings), and the same command skips the clips already written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from savos.atomic import write_json_atomic
from savos.config import config_from_dict
from savos.data import fingerprint, open_dataset
from savos.data.shards import sha256_file
from savos.evaluation.predictions import (
    INFO_NAME,
    claim,
    create_prediction_dir,
    write_prediction,
    write_prediction_info,
)
from savos.limits import MAX_BATCH, check_count
from savos.outputs import open_output
from savos.readers import FileFormatError, read_json
from savos.tracks import collate, crop_track, make_tracks, paste_back
from savos.training.checkpoint import find_checkpoint, load_checkpoint, load_weights
from savos.training.distributed import pick_device
from savos.training.methods import METHODS

PENDING_NAME = ".predict.json"
THRESHOLD = 0.5


def load_run(run_dir: str | Path, device: torch.device):
    """-> (model in eval mode, Config, checkpoint path, step) from a run's best (else last) checkpoint."""
    path = find_checkpoint(run_dir)
    ckpt = load_checkpoint(path)
    config = config_from_dict(ckpt["config"], source=str(path))
    model = load_weights(METHODS[config.method].build(config), ckpt["model"], path)
    return model.to(device).eval(), config, path, ckpt["step"]


@torch.no_grad()
def predict_clip(model: torch.nn.Module, method_name: str, clip, patch: int | tuple[int, int],
                 enlarge: float, batch: int, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """-> (amodal bool (T, K, H, W), predicted bool (K,)) for every target object of ``clip``.
    patch: ``data.patch`` of the run (P, or (Ph, Pw)).

    A target without any visible pixel has no track; it is marked predicted with an empty mask.
    """
    predict = METHODS[method_name].predict
    T, K = clip.num_frames, clip.num_objects
    amodal = np.zeros((T, K, *clip.size), bool)
    predicted = np.zeros(K, bool)
    predicted[clip.target_ids()] = True
    tracks = make_tracks(clip, patch, enlarge)
    for i in range(0, len(tracks), batch):
        chunk = tracks[i: i + batch]
        b = collate([crop_track(clip, tr) for tr in chunk]).to(device)
        probs = predict(model, b).float().cpu()  # (B, T, 1, Ph, Pw)
        for j, track in enumerate(chunk):
            full = paste_back(probs[j, :, 0].numpy(), track, size=clip.size)  # (T, H, W)
            amodal[:, track.object_id] = full >= THRESHOLD
    return amodal, predicted


def predict(run_dir: str | Path, data_root: str | Path, split: str, out_dir: str | Path, batch: int = 16,
            device: str = "auto", overwrite: bool = False, progress: bool = True) -> Path:
    """Write predictions for every clip of ``split`` of ``data_root`` into ``out_dir``; returns out_dir.

    The output records where it came from (run, checkpoint and its sha256, dataset fingerprint, split);
    an interrupted run with the same settings resumes, skipping the clips already written.
    """
    check_count(batch, "--batch", 1, MAX_BATCH)
    with open_output(out_dir, "savos predict") as folder:
        return _predict(run_dir, data_root, split, folder.path, batch, device, overwrite, progress)


def _predict(run_dir: str | Path, data_root: str | Path, split: str, out_dir: Path, batch: int, device: str,
             overwrite: bool, progress: bool) -> Path:
    clips = open_dataset(data_root, split)
    dev = pick_device(device, option="--device")
    model, config, ckpt_path, step = load_run(run_dir, dev)
    settings = {"method": config.method, "source": str(Path(ckpt_path).resolve()), "step": step,
                "checkpoint_sha256": sha256_file(Path(ckpt_path)),
                "data_root": str(Path(data_root).resolve()), "dataset_id": fingerprint(data_root),
                "split": split}
    pending = out_dir / PENDING_NAME
    resuming = not overwrite and not (out_dir / INFO_NAME).exists() and _pending(pending) == settings
    keys = [clips.locate(i)[1] for i in range(len(clips))]
    if not resuming:
        create_prediction_dir(out_dir, overwrite=overwrite, keys=keys, command="savos predict")
        claim(out_dir, [PENDING_NAME], "savos predict")
        write_json_atomic(pending, settings)

    n_objects = 0
    for i in tqdm(range(len(clips)), desc="predict", unit="clip", disable=not progress, dynamic_ncols=True):
        if resuming and (out_dir / f"{keys[i]}.npz").is_file():
            n_objects += len(clips[i].target_ids())
            continue
        clip = clips[i]
        amodal, predicted = predict_clip(model, config.method, clip, config.data.patch, config.data.enlarge,
                                         batch, dev)
        write_prediction(out_dir, clip.key, amodal, predicted, settings["dataset_id"])
        n_objects += int(predicted.sum())
    write_prediction_info(out_dir, {**settings, "run": str(Path(run_dir)), "checkpoint": str(ckpt_path),
                                    "num_clips": len(clips), "num_objects": n_objects,
                                    "threshold": THRESHOLD})
    pending.unlink(missing_ok=True)
    return out_dir


def _pending(path: Path) -> dict | None:
    """The settings of an interrupted run in this folder, or None (none, or unreadable: start afresh)."""
    if not path.is_file():
        return None
    try:
        return read_json(path, "record of an interrupted prediction run")
    except FileFormatError:
        return None
