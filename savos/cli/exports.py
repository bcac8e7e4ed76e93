"""``savos-gen export ...``: a savos dataset in the layouts other tools read (savos/data/exporters/).

Each command parses options and calls one library function; user errors print one line and exit 2.
"""

from __future__ import annotations

import click

from savos.data.exporters.fishbowl import export_fishbowl
from savos.data.exporters.kins import export_kins


def _splits(text: str | None) -> list[str] | None:
    return [s for s in text.split(",") if s] if text else None


def _options(f):
    """The options both exporters share."""
    for opt in reversed([
        click.argument("data", type=click.Path(file_okay=False)),
        click.option("--out", type=click.Path(file_okay=False), required=True,
                     help="Export folder (created; empty, or written by an earlier export, which is "
                          "replaced)."),
        click.option("--splits", "--split", "splits", default=None,
                     help="Comma-separated splits to export [default: all (fishbowl), train and test "
                          "(kins)]."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]):
        f = opt(f)
    return f


def _done(out, manifest) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in manifest["splits"].items())
    click.echo(f"{out}: {counts} clips in the {manifest['format']} layout; provenance in {out}/export.json")


@click.group("export")
def export_group() -> None:
    """Write a savos dataset in the layouts other tools read (FISHBOWL raw, KINS)."""


@export_group.command("fishbowl")
@_options
def fishbowl(data, out, splits, quiet):
    """Write dataset DATA in FISHBOWL's raw layout: per clip an H.264 video.mp4 and objects.json (COCO
    RLE visible masks), the amodal masks in <split>_objects/<vid>_object<id>/, type ids in types.json.
    `savos-gen import fishbowl OUT` reads it back with the same masks.

    Example: savos-gen export fishbowl data/gum --splits train,test --out export/gum-fishbowl
    """
    _done(out, export_fishbowl(data, out, splits=_splits(splits), progress=not quiet))


@export_group.command("kins")
@_options
@click.option("--category", default="car", show_default=True,
              help="KINS category of objects without a type.")
def kins(data, out, splits, quiet, category):
    """Write the train and test splits of dataset DATA as KINS amodal annotations
    (kins/update_{train,test}_2020.json, frame PNGs in kins/{training,testing}/image_2), and each clip as
    a KITTI raw drive (raw/) with its visible masks as KITTI-MOTS tracks (tracks/), the layout
    `savos-gen import kins-video-car --kins OUT/kins --kitti-raw OUT/raw --tracks OUT/tracks` reads.

    Example: savos-gen export kins data/gum --out export/gum-kins
    """
    _done(out, export_kins(data, out, splits=_splits(splits), category=category, progress=not quiet))
