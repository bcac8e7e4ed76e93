"""Recipes: YAML files loaded into frozen, typed dataclasses.

A recipe has the sections ``method`` (a name in ``savos.training.methods.METHODS``), ``data``, ``model`` (the
method's model config: for "savos", exactly the explicit arguments of ``build_savos``), ``loss``,
``train`` and ``adapt`` (test-time adaptation, `savos adapt`). Every key is optional (defaults below)
but an unknown key or a wrong type is an error naming the file and the key path. ``--set train.lr=3e-4``
overrides are parsed as YAML scalars and checked the same way. ``base: other.yaml`` (relative to the
recipe) starts a recipe from another one: only the keys that differ are written (``read_recipe``).
``dump_config`` writes the resolved config (every default filled in) back to YAML.

Only ``cli.py`` and the ``build_*``/``train``/``predict`` functions read a Config; modules take explicit
arguments.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from savos import safe_yaml
from savos.atomic import write_bytes_atomic
from savos.errors import brief, note
from savos.limits import MAX_BATCH, MAX_CLIPS, MAX_PATCH, MAX_WORKERS
from savos.readers import FileFormatError, merge, read_yaml
from savos.schema import ConfigError, FieldError, check, check_range, section_from_dict
from savos.training.methods import METHODS


@dataclass(frozen=True)
class DataConfig:
    # A dataset folder made by `savos-gen`, a curriculum folder (`savos-gen curriculum`), or a generator
    # config streamed on the fly (a scene, chewing-gum or curriculum YAML; savos/training/sources.py).
    # Relative paths are relative to the cwd.
    root: str = "data/gum"
    train_split: str = "train"
    val_split: str = "val"
    # crop size in pixels: P (square P x P) or [Ph, Pw] (height, width; the paper's 64 x 128 for wide objects)
    patch: int | tuple[int, int] = 64
    enlarge: float = 1.5  # crop box = box of the visible mask enlarged by this factor
    window: int = 16  # training window length in frames (validation and prediction use whole tracks)
    val_clips: int = 32  # first clips of the val split used for validation (all their target tracks)
    workers: int = 0  # DataLoader worker processes preparing training batches (0 = in the main process)
    # Validation dataset; empty = root (a dataset), the last level (a curriculum folder), or
    # data/<stem>-val (a YAML: generated once, data.val_clips clips, if missing).
    val_root: str = ""
    level_steps: tuple[int, ...] = ()  # curriculum: steps per level (last level to the end); empty = equal
    plateau: int = 0  # curriculum: advance after this many validations without a better val loss (0 = off)

    def __post_init__(self):
        for side in (self.patch,) if isinstance(self.patch, int) else self.patch:
            check_range(side, "patch", 8, MAX_PATCH, " (an int, or a list [height, width] of them)")
        check(self.enlarge >= 1.0, "enlarge", f"must be >= 1, got {self.enlarge}")
        check_range(self.window, "window", 2, 1000, " frames")
        check_range(self.val_clips, "val_clips", 0, MAX_CLIPS)
        check_range(self.workers, "workers", 0, MAX_WORKERS, " (at most the machine's cores are used)")
        check_range(self.plateau, "plateau", 0, 1_000_000, " validations")
        for i, s in enumerate(self.level_steps):
            check_range(s, f"level_steps[{i}]", 0, 10**9, " steps")


@dataclass(frozen=True)
class LossConfig:
    lambda1: float = 1.0  # weight of L_M, the masked BCE against the next visible mask (eq. 3-5, 7)
    lambda2: float = 1.0  # weight of L_C, the amodal consistency 1 - soft IoU (eq. 6, 7)
    merged_weight: float = 0.5  # share of the merged prediction (eq. 8) vs each direction's own in L_M, L_C
    horizon: int = 1  # L_M compares frame t's mask, moved k = 1..horizon frames on, with V_{t+k} (1: paper)
    lambda3: float = 0.0  # weight of L_O, the mask's mean under the other objects at t (0: the paper)
    lambda0: float = 0.0  # weight of L_V, the BCE of the mask at t against V_t outside the others (0: paper)
    # method savos: share of training tracks given an artificial occluder that travels with the object
    # for the whole window, on the inputs only (savos.training.hide; 0: the paper)
    occlude: float = 0.0

    def __post_init__(self):
        check(self.lambda1 >= 0, "lambda1", f"must be >= 0, got {self.lambda1}")
        check(self.lambda3 >= 0, "lambda3", f"must be >= 0, got {self.lambda3}")
        check(self.lambda0 >= 0, "lambda0", f"must be >= 0, got {self.lambda0}")
        check(0 <= self.occlude <= 1, "occlude", f"must be in [0, 1], got {self.occlude}")
        check(1 <= self.horizon <= 64, "horizon", f"must be an int in [1, 64], got {self.horizon}")
        check(self.lambda2 >= 0, "lambda2", f"must be >= 0, got {self.lambda2}")
        check(0 <= self.merged_weight <= 1, "merged_weight", f"must be in [0, 1], got {self.merged_weight}")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0  # model init and data sampling; 0 is a seed like any other
    steps: int = 2000  # optimizer steps; also the length of the LR schedule
    batch_size: int = 8  # tracks per process per step (global batch = batch_size x processes)
    lr: float = 1e-4  # Adam peak learning rate
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    warmup: int = 0  # linear warm-up steps (any schedule)
    min_lr_ratio: float = 0.1  # cosine: final LR = lr x min_lr_ratio
    decay_every: int = 1000  # step: multiply the LR by decay_factor every decay_every steps
    decay_factor: float = 0.5
    grad_clip: float = 1.0  # max global gradient norm; 0 = no clipping
    val_every: int = 250  # steps between validations (and last.pt saves); the last step always validates
    log_every: int = 10  # steps between TensorBoard scalar logs
    images: int = 4  # validation tracks drawn in TensorBoard (visible / prediction / ground truth)
    threads: int = 2  # torch CPU threads per process (0 = leave torch's default)
    max_minutes: float = 0.0  # stop cleanly (saving last.pt) after this many minutes; 0 = no limit
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto = cuda if available
    # Divergence (docs/reliability.md): stop with status "diverged" when the running mean of the training
    # loss exceeds diverge_factor x its mean over the first steps, or when the validation loss is no
    # lower than at step 0 once diverge_after of the run is done. 0 turns a check off. Neither looks
    # before step MIN_DIVERGE_STEPS (savos.training.health).
    diverge_factor: float = 3.0
    diverge_after: float = 0.25

    def __post_init__(self):
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check_range(self.steps, "steps", 1, 10**9)
        check_range(self.batch_size, "batch_size", 1, MAX_BATCH)
        check(0 < self.lr <= 1, "lr", f"must be in (0, 1] (Adam; typical 1e-4 to 1e-3), got {self.lr}")
        check(0 <= self.warmup <= self.steps, "warmup", f"must be in [0, steps], got {self.warmup}")
        check(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio}")
        check(self.decay_every >= 1, "decay_every", f"must be >= 1, got {self.decay_every}")
        check(0 < self.decay_factor <= 1, "decay_factor", f"must be in (0, 1], got {self.decay_factor}")
        check(self.grad_clip >= 0, "grad_clip", f"must be >= 0, got {self.grad_clip}")
        check(self.val_every >= 1, "val_every", f"must be >= 1, got {self.val_every}")
        check(self.log_every >= 1, "log_every", f"must be >= 1, got {self.log_every}")
        check_range(self.images, "images", 0, 64)
        check(self.diverge_factor == 0 or self.diverge_factor > 1, "diverge_factor",
              f"must be 0 (off) or > 1, got {self.diverge_factor}")
        check(0 <= self.diverge_after <= 1, "diverge_after", f"must be in [0, 1], got {self.diverge_after}")
        check_range(self.threads, "threads", 0, 1024)
        check(self.max_minutes >= 0, "max_minutes", f"must be >= 0, got {self.max_minutes}")


@dataclass(frozen=True)
class AdaptConfig:
    """Test-time adaptation (`savos adapt`, paper §3.2 and §4.3; savos/adapt/loop.py): per clip, the
    trained weights are fine-tuned with the method's own self-supervised loss on that clip alone."""

    lr: float = 1e-3  # Adam learning rate (constant); 1e-3 beat 1e-4 on gum-hard val clips (docs/adapt.md)
    max_iters: int = 30  # optimizer steps per clip at most
    patience: int = 10  # §4.3: stop when the best visible-part IoU rose by less than min_delta ...
    min_delta: float = 0.01  # ... over the last `patience` iterations (0 = never stop early)
    batch_size: int = 8  # windows per step (all the clip's target tracks when they are fewer, whole)
    window: int = 0  # frames per window; 0 = whole clips (the model is recurrent over the clip)
    grad_clip: float = 1.0  # max global gradient norm; 0 = no clipping
    seed: int = 0  # window sampling (and image-ssl's artificial occluders): rng([seed, clip, iteration])
    threads: int = 1  # torch CPU threads per worker process (`--workers` processes adapt clips in parallel)

    def __post_init__(self):
        check(0 < self.lr <= 1, "lr", f"must be in (0, 1] (Adam; typical 1e-5 to 1e-3), got {self.lr}")
        check_range(self.max_iters, "max_iters", 0, 100_000)
        check_range(self.patience, "patience", 1, 100_000)
        check(self.min_delta >= 0, "min_delta", f"must be >= 0, got {self.min_delta}")
        check_range(self.batch_size, "batch_size", 1, MAX_BATCH)
        check(self.window == 0 or 2 <= self.window <= 1000, "window",
              f"must be 0 (whole clips) or in [2, 1000] frames, got {self.window}")
        check(self.grad_clip >= 0, "grad_clip", f"must be >= 0, got {self.grad_clip}")
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check_range(self.threads, "threads", 0, 1024)


@dataclass(frozen=True)
class Config:
    method: str = "savos"
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = None  # METHODS[method].model_config (savos.training.methods)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    # Where the config came from ("recipes/x.yaml --set ..."), for error messages; not part of it.
    source: str = field(default="", compare=False, repr=False)


SECTIONS = ("method", "data", "model", "loss", "train", "adapt")


def config_from_dict(raw: Any, source: str = "<dict>", origins: dict[str, str] | None = None) -> Config:
    """Validate a recipe dict. Errors read ``<source>: <key path>: <problem>``; ``origins`` maps key paths
    set by overrides to the override text, which is then named instead of the file."""
    origins = origins or {}
    try:
        if not isinstance(raw, dict):
            raise FieldError("<top>", f"a recipe is a mapping of sections, got {type(raw).__name__}")
        for key in raw:
            check(key in SECTIONS, str(key), f"unknown section (known: {', '.join(SECTIONS)})")
        method = raw.get("method", "savos")
        known = ", ".join(METHODS)
        check(method in METHODS, "method", f"unknown method {brief(method)} (known: {known})")
        return Config(
            method=method,
            data=section_from_dict(DataConfig, raw.get("data"), "data"),
            model=section_from_dict(METHODS[method].model_config, raw.get("model"), "model"),
            loss=section_from_dict(LossConfig, raw.get("loss"), "loss"),
            train=section_from_dict(TrainConfig, raw.get("train"), "train"),
            adapt=section_from_dict(AdaptConfig, raw.get("adapt"), "adapt"),
            source=source,
        )
    except FieldError as e:
        where = origins.get(e.key) or next((o for k, o in origins.items() if e.key.startswith(k + ".")),
                                           source)
        raise ConfigError(f"{where}: {e.key}: {e.msg}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=3e-4"`` -> (["train", "lr"], 3e-4); the value is read as a YAML scalar."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text}: expected KEY=VALUE, e.g. --set train.lr=3e-4")
    try:
        parsed = safe_yaml.load(value) if value.strip() else ""
    except safe_yaml.YamlRefused as e:
        raise ConfigError(f"--set {text}: value {e}") from None
    return key.strip().split("."), parsed


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Apply ``--set`` overrides to ``raw`` in place; returns {key path: "--set ..."} for messages."""
    origins = {}
    for text in overrides:
        path, value = parse_override(text)
        node = raw
        for i, part in enumerate(path[:-1]):
            sub = node.get(part)
            if sub is None:
                sub = node[part] = {}
            if not isinstance(sub, dict):
                raise ConfigError(f"--set {text}: {'.'.join(path[: i + 1])} is not a section")
            node = sub
        node[path[-1]] = value
        origins[".".join(path)] = f"--set {text}"
    return origins


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a recipe YAML (and its ``base:`` chain), apply ``--set`` overrides, validate. Raises
    ConfigError (one line)."""
    path = Path(path)
    raw, origins = read_recipe(path)
    train = raw.get("train")
    recipe_steps = train.get("steps") if isinstance(train, dict) else None  # before the overrides
    by_set = apply_overrides(raw, overrides)
    _scale_warmup(raw, by_set, recipe_steps)
    return config_from_dict(raw, str(path), {**origins, **by_set})


def read_recipe(path: Path, _chain: tuple[Path, ...] = ()) -> tuple[dict, dict[str, str]]:
    """The recipe at ``path`` as a dict, with its ``base:`` merged under it: ``base: gum-cpu.yaml`` (a
    path relative to the recipe's folder) starts from that recipe, itself perhaps with a base, and the
    file's own keys replace the base's key by key (sections merge, lists replace). Also returns
    {key path: where it was set} for the keys that came from a base, so an error names that file."""
    try:
        raw = read_yaml(path, "recipe file")
    except FileFormatError as e:
        raise ConfigError(str(e)) from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of sections, got {type(raw).__name__}")
    if "base" not in raw:
        return raw, {}
    base = raw.pop("base")
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{path}: base: expected the file name of another recipe, relative to this "
                          f"one (e.g. base: gum-cpu.yaml), got {brief(base)}")
    base_path = Path(os.path.normpath(path.parent / base))
    chain = (*_chain, path.resolve())
    if base_path.resolve() in chain:
        raise ConfigError(f"{path}: base: {base} leads back to {base_path}; a recipe cannot be its own "
                          "base, directly or through others")
    if not base_path.is_file():
        raise ConfigError(f"{path}: base: no such recipe {base_path} (base is relative to {path.parent})")
    base_raw, base_origins = read_recipe(base_path, chain)
    own = list(_leaf_paths(raw))

    def overridden(key: str) -> bool:
        return any(key == k or key.startswith(k + ".") for k in own)

    here = f"{base_path} (the base of {path})"
    origins = {k: base_origins.get(k, here) for k in _leaf_paths(base_raw) if not overridden(k)}
    return merge(base_raw, raw), origins


def _leaf_paths(d: dict, prefix: str = ""):
    """Dotted key paths of the non-mapping values of ``d`` (an empty mapping is a leaf)."""
    for key, value in d.items():
        if isinstance(value, dict) and value:
            yield from _leaf_paths(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _scale_warmup(raw: dict, by_set: dict[str, str], recipe_steps: Any) -> None:
    """``--set train.steps=N`` below the recipe's warm-up (and no ``--set train.warmup``): scale the
    warm-up by N / recipe steps, so a short run (``--set train.steps=3``) keeps the recipe's schedule
    shape instead of failing ``train.warmup must be in [0, steps]``. Prints a one-line note."""
    train = raw.get("train")
    if "train.steps" not in by_set or "train.warmup" in by_set or not isinstance(train, dict):
        return
    steps, warmup = train.get("steps"), train.get("warmup")
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (steps, warmup))
    if not ints or not 0 <= steps < warmup:
        return
    base = recipe_steps if isinstance(recipe_steps, int) and recipe_steps >= warmup else warmup
    train["warmup"] = min(steps, warmup * steps // base)
    note(f"{by_set['train.steps']}: train.warmup {warmup} -> {train['warmup']} "
         f"(scaled by {steps}/{base}; --set train.warmup=N to choose)")


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain dict of the resolved config (tuples as lists), as saved in run folders and checkpoints."""

    def plain(x):
        if isinstance(x, tuple | list):
            return [plain(v) for v in x]
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return x

    d = {k: plain(getattr(config, k)) for k in ("method",)}
    for k in ("data", "model", "loss", "train", "adapt"):
        d[k] = plain(dataclasses.asdict(getattr(config, k)))
    return d


def dump_config(config: Config, path: str | Path | None = None) -> str:
    """The resolved config as YAML text; also written to ``path`` if given."""
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    if path is not None:

        write_bytes_atomic(path, text.encode())
    return text
