"""``savos-gen``: make, verify and preview procedural datasets; import and export real-data layouts.

Each command parses options and calls one library function; user errors print one line and exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from generators.chewing_gum import write_chewing_gum_dataset
from generators.config import load_gum_config
from generators.preview import preview_frames, write_video
from generators.repair import repair as repair_dataset
from generators.scenes.curriculum import write_curriculum
from generators.scenes.dataset import write_scene_dataset
from generators.scenes.gallery import clip_to_preview, make_gallery
from generators.verify import verify as verify_any
from savos.cli.exports import export_group
from savos.cli.group import ErrorGroup
from savos.cli.imports import import_group
from savos.data.verify import format_report
from savos.errors import SavosError
from savos.evaluation.predictions import open_predictions
from savos.limits import cap_workers, check_count
from savos.outputs import check_output_file, check_writable, open_output_file


class _Group(ErrorGroup):
    interrupted = "interrupted: re-run the same command to resume"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="savos")
def main() -> None:
    """Procedural videos with exact amodal ground truth, in the savos Clip format."""


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise SavosError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
    return i, n


def _dataset_options(command):
    """The options every dataset-making command shares: seed, split sizes, workers, shards."""
    options = [
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Base seed: clip i uses rng([seed, i])."),
        click.option("--val", type=int, default=None, help="Validation clips [default: 10% of --n]."),
        click.option("--test", type=int, default=None, help="Test clips [default: 10% of --n]."),
        click.option("--workers", type=int, default=None, help="Processes [default: all cores]."),
        click.option("--shard", "shard", default="0/1", show_default=True,
                     help="Make only every n-th shard starting at i (i/n), e.g. to split work across "
                          "machines."),
        click.option("--shard-size", type=int, default=100, show_default=True, help="Clips per shard file."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command("chewing-gum")
@click.option("--n", "n", type=int, default=5000, show_default=True, help="Total number of clips.")
@click.option("--out", type=click.Path(file_okay=False), default="data/gum", show_default=True,
              help="Dataset folder (created; an interrupted run resumes here).")
@_dataset_options
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file of generator options (the keys of ChewingGumConfig); flags override it.")
@click.option("--height", type=int, default=None, help="Frame height in pixels.")
@click.option("--width", type=int, default=None, help="Frame width in pixels.")
@click.option("--frames", type=int, default=None, help="Frames per clip.")
@click.option("--targets", type=int, default=None, help="Target (evaluated) objects per clip.")
@click.option("--occluders", type=int, default=None, help="Extra occluder objects per clip.")
@click.option("--amodal-flow/--no-amodal-flow", default=None, help="Store amodal flow [default: yes].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def chewing_gum(n, out, seed, val, test, workers, shard, shard_size, config_file, height, width, frames,
                targets, occluders, amodal_flow, quiet):
    """Make a Chewing-Gum dataset (paper §4): random 7-12-gons that occlude each other while they move.

    Every target is partly hidden in every frame, and every part of it is visible in some frame. Made by
    the scene engine (layout gum, the same clips as `savos-gen scene recipes/scenes/gum.yaml` at the
    defaults), with Chewing Gum's options and meta.
    Example: savos-gen chewing-gum --n 5000 --out data/gum
    """
    config = load_gum_config(config_file, {
        "height": height, "width": width, "frames": frames, "num_targets": targets,
        "num_occluders": occluders, "amodal_flow": amodal_flow})
    info = write_chewing_gum_dataset(config, out, n=n, seed=seed, val=val, test=test, workers=workers,
                                     shard=_parse_shard(shard), shard_size=shard_size, progress=not quiet)
    _report(out, shard, n, info)


@main.command("scene")
@click.argument("scene_file", metavar="SCENE.yaml", type=click.Path(dir_okay=False))
@click.option("--n", "n", type=int, default=5000, show_default=True, help="Total number of clips.")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Dataset folder (created; an interrupted run resumes here).")
@_dataset_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def scene(scene_file, n, out, seed, val, test, workers, shard, shard_size, quiet):
    """Make a dataset of configurable occlusion scenes described by SCENE.yaml.

    Shapes, textures, motions (affine and non-rigid), camera, static occluders, the occlusion-rate
    range and the visibility guarantee are set in the file (presets: recipes/scenes/*.yaml).
    Example: savos-gen scene recipes/scenes/shapes.yaml --n 1000 --out data/shapes
    """
    info = write_scene_dataset(scene_file, out, n=n, seed=seed, val=val, test=test, workers=workers,
                               shard=_parse_shard(shard), shard_size=shard_size, progress=not quiet)
    _report(out, shard, n, info)


@main.command("curriculum")
@click.argument("curriculum_file", metavar="CURRICULUM.yaml", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder: one dataset per level plus curriculum.json (an interrupted run resumes).")
@click.option("--n", "n", type=int, default=1000, show_default=True, help="Clips per level.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; level i uses seed + i.")
@click.option("--val", type=int, default=None, help="Validation clips per level [default: 10% of --n].")
@click.option("--test", type=int, default=None, help="Test clips per level [default: 10% of --n].")
@click.option("--workers", type=int, default=None, help="Processes [default: all cores].")
@click.option("--shard-size", type=int, default=100, show_default=True, help="Clips per shard file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def curriculum(curriculum_file, out, n, seed, val, test, workers, shard_size, quiet):
    """Make the levels of a curriculum (rising difficulty), each a dataset, and a manifest.

    Example: savos-gen curriculum recipes/curricula/gum.yaml --out data/gum-curriculum --n 1000
    """
    manifest = write_curriculum(curriculum_file, out, n=n, seed=seed, val=val, test=test, workers=workers,
                                shard_size=shard_size, progress=not quiet)
    names = ", ".join(level["name"] for level in manifest["levels"])
    click.echo(f"{out}: {len(manifest['levels'])} levels of {n} clips ({names}); manifest "
               f"{out}/curriculum.json")


def _report(out: str, shard: str, n: int, info: dict | None) -> None:
    if info is None:
        click.echo(f"{out}: shard {shard} done; dataset.json is written by the run that finishes "
                   "the last shard")
    else:
        counts = {k: v["count"] for k, v in info["splits"].items()}
        click.echo(f"{out}: {n} clips ({', '.join(f'{k} {v}' for k, v in counts.items())}); "
                   f"check it with `savos-gen verify {out}`")


@main.command("verify")
@click.argument("root", type=click.Path(file_okay=False))
@click.option("--workers", type=int, default=None, help="Processes [default: all cores].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--repair", is_flag=True,
              help="First make again every shard that is missing or fails its checksum, from the "
                   "generator config and seed in dataset.json (the original bytes).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def verify(root, workers, as_json, repair, quiet):
    """Check every shard, clip and invariant of a dataset; print statistics. Exit 1 on any problem."""
    if repair:
        made = repair_dataset(root, workers=cap_workers(workers), progress=not quiet)
        click.echo(f"{root}: repaired {len(made)} shard(s)", err=as_json)
    report = verify_any(root, workers=cap_workers(workers), progress=not quiet)
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        click.echo(format_report(report))
    if report["problems"]:
        for p in report["problems"][:20]:
            click.echo(f"problem: {p}", err=True)
        more = len(report["problems"]) - 20
        hidden = f" ({more} not shown)" if more > 0 else ""
        fix = any(p.endswith((": missing", ": checksum mismatch (corrupt or changed)"))
                  for p in report["problems"])
        fix = f"; make missing or corrupt shards again with `savos-gen verify {root} --repair`" if fix else ""
        click.echo(f"FAILED: {len(report['problems'])} problem(s){hidden}{fix}", err=True)
        sys.exit(1)
    if not as_json:  # stdout stays one JSON document
        click.echo("OK: every check passed")


@main.command("preview")
@click.argument("root", metavar="ROOT|SCENE.yaml", type=click.Path())
@click.option("--clip", "index", type=int, default=0, show_default=True,
              help="Clip position in the split (a scene file: the generator's clip index).")
@click.option("--split", default="test", show_default=True, help="Dataset split the clip is in.")
@click.option("--seed", type=int, default=0, show_default=True, help="A scene file's base seed.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output .gif or .mp4.")
@click.option("--fps", type=int, default=8, show_default=True)
@click.option("--scale", type=int, default=4, show_default=True, help="Pixel upscaling factor.")
@click.option("--pred", "pred_dir", type=click.Path(file_okay=False), default=None,
              help="Prediction folder (savos predict): draw its amodal masks instead of the clip's.")
@click.option("--overwrite", is_flag=True, help="Replace a preview savos wrote at --out earlier.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def preview(root, index, split, seed, out, fps, scale, pred_dir, overwrite, quiet):
    """Write an animation of one clip of a dataset, or of a scene file (made in memory, nothing written):
    frame | visible labels | amodal contours | flow colour wheel. An existing file at --out is replaced
    only with --overwrite, and only if savos wrote it."""
    check_count(fps, "--fps", 1, 120)
    check_count(scale, "--scale", 1, 32)
    check_output_file(out, "savos-gen preview", overwrite)  # before any work
    if pred_dir is not None and Path(root).is_file():
        raise SavosError("--pred: draws predictions of a dataset's clip; a scene file has none")
    clip = clip_to_preview(root, index, split, seed)
    amodal = None
    if pred_dir is not None:
        preds = open_predictions(pred_dir)
        preds.check_made_on(root, split)
        amodal, _ = preds.load(clip.key)
        if amodal.shape != clip.amodal.shape:
            raise SavosError(f"{pred_dir}: prediction of {clip.key} is {amodal.shape}, the clip "
                             f"{clip.amodal.shape}; predict the same dataset and split")
    frames = preview_frames(clip, scale=scale, amodal=amodal)
    with open_output_file(out, "savos-gen preview", overwrite) as target:
        path = write_video(frames, target, fps=fps)
    if not quiet:
        click.echo(f"wrote {path}")


@main.command("gallery")
@click.option("--scenes", type=click.Path(file_okay=False, exists=True), default="recipes/scenes",
              show_default=True, help="Folder of scene presets (*.yaml).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for one <preset>.gif each (docs/scenes.md shows docs/gallery).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--scale", type=int, default=2, show_default=True, help="Pixel upscaling factor.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; print only the summary line.")
def gallery(scenes, out, seed, scale, quiet):
    """One preview GIF per scene preset (the gallery of docs/scenes.md), each clip made in memory.

    Example: savos-gen gallery --out docs/gallery
    """
    files = sorted(Path(scenes).glob("*.yaml"))
    if not files:
        raise SavosError(f"--scenes {scenes}: no *.yaml scene files there")
    check_writable(out)
    paths = make_gallery(files, out, seed=seed, scale=scale, progress=not quiet)
    click.echo(f"wrote {len(paths)} GIFs to {out}")


main.add_command(import_group)
main.add_command(export_group)

if __name__ == "__main__":  # pragma: no cover
    main()
