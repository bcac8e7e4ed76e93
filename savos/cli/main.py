"""The ``savos`` command. Each command parses its options, loads the config and calls one library
function; user errors (SavosError) become one line on stderr and exit code 2. Library modules are
imported inside each command (commented "lazy"), so that `savos --help` does not load torch."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from savos.cli.group import ErrorGroup
from savos.readers import read_json


@click.group(cls=ErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="savos")
def main() -> None:
    """SaVos: self-supervised amodal video object segmentation.

    Typical use: `savos-gen chewing-gum` to make data, `savos train RECIPE.yaml`, `savos predict`,
    `savos eval`.
    """


# Commands are added below, one function each.


@main.command("eval")
@click.argument("pred_dir", type=click.Path(file_okay=False))
@click.argument("data", type=click.Path(file_okay=False))
@click.option("--split", default="test", show_default=True, help="Dataset split the predictions cover.")
@click.option("--protocol", type=click.Choice(["savos", "eoras", "savos-kins"]), default="savos",
              show_default=True,
              help="Scoring protocol (docs/metrics.md); numbers under different protocols differ.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for metrics_<protocol>.{json,csv} [default: PRED_DIR].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def eval_cmd(pred_dir: str, data: str, split: str, protocol: str, out_dir: str | None, quiet: bool) -> None:
    """Score the predictions in PRED_DIR against the ground truth of dataset DATA."""
    from savos.evaluation.evaluate import evaluate, format_table  # lazy: imports torch

    result = evaluate(pred_dir, data, split=split, protocol=protocol, out_dir=out_dir, progress=not quiet)
    click.echo(format_table(result))
    for path in result.files:
        click.echo(f"wrote {path}")


@main.command("baseline")
@click.argument("name", type=click.Choice(["convex", "circle", "union", "visible"]))
@click.argument("data", type=click.Path(file_okay=False))
@click.option("--split", default="test", show_default=True, help="Dataset split to predict.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Prediction folder to write (see docs/predictions.md).")
@click.option("--overwrite", is_flag=True, help="Replace predictions already in --out.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--motion", default=None, metavar="NAME",
              help="union: the object-motion estimator (savos.motion: affine-lsq (default), affine-irls, "
                   "mask-align, mask-align-sim, mask-align-smooth; docs/estimated-flow.md).")
def baseline_cmd(name: str, data: str, split: str, out_dir: str, overwrite: bool, quiet: bool,
                 motion: str | None) -> None:
    """Predict amodal masks of DATA with a non-learned baseline: convex hull, circle, union (the visible
    masks of all frames carried to each frame by the flow) or visible mask."""
    from savos.evaluation.baselines import run_baseline  # lazy: imports torch

    path = run_baseline(name, data, split, out_dir, overwrite=overwrite, progress=not quiet, motion=motion)
    click.echo(f"wrote {path}")


@main.command("train")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key, e.g. --set train.lr=3e-4 (repeatable).")
@click.option("--out", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Run folder [default: runs/<recipe name>].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train_cmd(recipe: str, overrides: tuple[str, ...], run_dir: str | None, resume: bool,
              quiet: bool) -> None:
    """Train on the dataset of RECIPE (YAML); works alone or under `torchrun --nproc_per_node N`."""

    from savos.config import load_config  # lazy: imports torch
    from savos.training.train import train  # lazy: imports torch

    config = load_config(recipe, overrides)
    run_dir = run_dir or str(Path("runs") / Path(recipe).stem)
    sets = [a for o in overrides for a in ("--set", o)]
    again = ["savos", "train", recipe, *sets, "--out", run_dir, "--resume"]
    summary = train(config, run_dir, resume=resume, progress=not quiet, resume_command=shlex.join(again))
    if summary:
        click.echo(f"{summary['status']} at step {summary['step']}; best val loss "
                   f"{summary['best_val_loss']} at step {summary['best_step']}; run folder {run_dir}")


@main.command("predict")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("data", type=click.Path(file_okay=False))
@click.option("--split", default="test", show_default=True, help="Dataset split to predict.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Prediction folder to write (see docs/predictions.md); resumes an interrupted run.")
@click.option("--batch", type=int, default=16, show_default=True, help="Tracks per forward pass.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto: cuda when available, else cpu.")
@click.option("--overwrite", is_flag=True, help="Replace predictions already in --out.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def predict_cmd(run_dir: str, data: str, split: str, out_dir: str, batch: int, device: str, overwrite: bool,
                quiet: bool) -> None:
    """Predict amodal masks of DATA with the best checkpoint of training run RUN_DIR."""
    from savos.evaluation.predict import predict  # lazy: imports torch

    path = predict(run_dir, data, split, out_dir, batch=batch, device=device, overwrite=overwrite,
                   progress=not quiet)
    click.echo(f"wrote {path}")


@main.command("adapt")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("data", type=click.Path(file_okay=False))
@click.option("--split", default="test", show_default=True, help="Dataset split to adapt to and predict.")
@click.option("--clips", default=None, metavar="LIST",
              help="Clip positions in the split, e.g. 0-9,12 [default: every clip].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Prediction folder to write (adapted predictions, before/, logs/); resumes an "
                   "interrupted run.")
@click.option("--set", "overrides", multiple=True, metavar="adapt.KEY=VALUE",
              help="Override an adapt setting of the run's recipe, e.g. --set adapt.lr=3e-4 (repeatable).")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes adapting clips in parallel (each uses adapt.threads torch threads).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto: cuda when available, else cpu.")
@click.option("--overwrite", is_flag=True, help="Replace outputs already in --out.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def adapt_cmd(run_dir: str, data: str, split: str, clips: str | None, out_dir: str,
              overrides: tuple[str, ...], workers: int, device: str, overwrite: bool, quiet: bool) -> None:
    """Test-time adaptation (paper §3.2): per clip of DATA, fine-tune RUN_DIR's weights with the method's
    own self-supervised loss on that clip alone (no ground truth), stop early on the visible-part IoU,
    and predict. The run is never modified. Settings: the recipe's `adapt:` section (docs/adapt.md)."""
    from savos.adapt.split import LOGS, SUMMARY, adapt, format_summary  # lazy: imports torch

    path = adapt(run_dir, data, split, out_dir, clips=clips, overrides=overrides, workers=workers,
                 device=device, overwrite=overwrite, progress=not quiet)
    click.echo(format_summary(read_json(path / LOGS / SUMMARY, "adaptation summary")))
    click.echo(f"wrote {path}")


@main.command("report")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Report folder.")
@click.option("--data", default=None, type=click.Path(file_okay=False),
              help="Dataset to score unscored predictions on [default: the one they record].")
@click.option("--split", default="test", show_default=True)
@click.option("--protocol", type=click.Choice(["savos", "eoras", "savos-kins"]), default="savos",
              show_default=True)
@click.option("--clips", type=int, default=3, show_default=True, help="Clips to animate as GIFs.")
@click.option("--overwrite", is_flag=True, help="Replace a report already in --out.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar while unscored predictions are scored.")
def report_cmd(inputs: tuple[str, ...], out_dir: str, data: str | None, split: str, protocol: str,
               clips: int, overwrite: bool, quiet: bool) -> None:
    """Write a self-contained report (table, plots, GIFs, index.md) from prediction and run folders."""
    from savos.report.report import make_report  # lazy: imports torch

    index = make_report(list(inputs), out_dir, data_root=data, split=split, protocol=protocol, clips=clips,
                        overwrite=overwrite, progress=not quiet)
    click.echo(f"wrote {index}")


if __name__ == "__main__":  # pragma: no cover - `python -m savos.cli.main` (e.g. under torchrun)
    main()
