"""``savos-gen import ...``: real data into the Clip format (savos/data/importers/).

Each command parses options and calls one library function; user errors print one line and exit 2.
"""

from __future__ import annotations

import click

from savos.data.importers.assemble import ImportOptions
from savos.data.importers.fishbowl import import_fishbowl
from savos.data.importers.kins import import_kins_video_car
from savos.data.importers.user_video import import_video
from savos.errors import SavosError
from savos.schema import FieldError


def _options(f):
    """The options every importer shares (savos.data.importers.assemble.ImportOptions)."""
    for opt in reversed([
        click.option("--out", type=click.Path(file_okay=False), required=True,
                     help="Dataset folder (created; an interrupted import resumes here)."),
        click.option("--window", type=int, default=None,
                     help="Frames per clip [default: the whole video]."),
        click.option("--stride", type=int, default=None,
                     help="Frames between window starts [default: --window]."),
        click.option("--size", default=None,
                     help="Resize clips to HxW, e.g. 160x240 [default: source size]."),
        click.option("--flow", "flow", default="dis-fine", show_default=True,
                     type=click.Choice(["dis-fine", "dis-medium", "dis-fast", "farneback"]),
                     help="OpenCV flow estimator, used when the source has no flow (docs/dataset-card.md)."),
        click.option("--max-videos", type=int, default=None,
                     help="Import at most this many videos per split."),
        click.option("--workers", type=int, default=None, help="Processes [default: all cores]."),
        click.option("--shard-size", type=int, default=20, show_default=True,
                     help="Clips per shard file (the unit of parallel work and of resuming)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]):
        f = opt(f)
    return f


def _import_options(window, stride, size, flow, max_videos):

    height = width = None
    if size is not None:
        try:
            height, width = (int(x) for x in size.lower().split("x"))
        except ValueError:
            raise SavosError(f"--size {size!r}: expected HxW, e.g. 160x240") from None
    try:
        return ImportOptions(window=window, stride=stride, height=height, width=width, flow=flow,
                             max_videos=max_videos)
    except FieldError as e:
        flag = "--size" if e.key in ("height", "width") else "--" + e.key.replace("_", "-")
        raise SavosError(f"{flag}: {e.msg}") from None


def _done(out, info) -> None:
    counts = ", ".join(f"{k} {v['count']}" for k, v in info["splits"].items())
    click.echo(f"{out}: {counts} clips; check it with `savos-gen verify {out}`")


@click.group("import")
def import_group() -> None:
    """Import real data (FISHBOWL, KINS-Video-Car, your own videos) as a savos dataset."""


@import_group.command("fishbowl")
@click.argument("src", type=click.Path(file_okay=False))
@_options
@click.option("--splits", default=None, help="Comma-separated splits to import [default: all found].")
@click.option("--unseen-type", default=None,
              help="Table 2's unseen-type split: train targets are the other four fish types, "
                   "val/test targets only this one (e.g. BigFishA).")
def fishbowl(src, out, window, stride, size, flow, max_videos, workers, shard_size, quiet, splits,
             unseen_type):
    """Import FISHBOWL from SRC, in its raw layout (<split>_data/...) or its WebDataset layout
    (<split>/shard-*.tar), detected. Objects with <= 100 visible pixels are dropped, as in the original.

    Example: savos-gen import fishbowl /data/fishbowl --splits train,test --window 32 --out data/fishbowl
    """

    options = _import_options(window, stride, size, flow, max_videos)
    info = import_fishbowl(src, out, options, splits=splits.split(",") if splits else None,
                           unseen_type=unseen_type, workers=workers, shard_size=shard_size,
                           progress=not quiet)
    _done(out, info)


@import_group.command("video")
@click.argument("frames", type=click.Path())
@click.option("--masks", type=click.Path(), required=True,
              help="Folder of indexed PNG instance masks (DAVIS style), or a KITTI-MOTS .txt file.")
@_options
@click.option("--split", default="test", show_default=True, help="Split to write the clips to.")
def video(frames, masks, out, window, stride, size, flow, max_videos, workers, shard_size, quiet, split):
    """Import your own video FRAMES (an mp4 or a folder of frames) with per-frame instance masks from
    any segmenter or tracker, then `savos predict` gives amodal masks and `savos-gen preview` shows
    them. There is no amodal truth (amodal_known is all False).

    Example: savos-gen import video clip.mp4 --masks clip_masks/ --window 16 --out data/myvideo
    """

    options = _import_options(window, stride, size, flow, max_videos)
    info = import_video(frames, masks, out, options, split=split, workers=workers, shard_size=shard_size,
                        progress=not quiet)
    _done(out, info)


@import_group.command("kins-video-car")
@click.option("--kins", "kins", type=click.Path(file_okay=False), required=True,
              help="KINS folder: {training,testing}/image_2 and the annotation JSONs.")
@click.option("--kitti-raw", "kitti_raw", type=click.Path(file_okay=False), required=True,
              help="KITTI raw root: <date>/<date>_drive_XXXX_sync/image_02/data/*.png.")
@click.option("--tracks", type=click.Path(file_okay=False), required=True,
              help="Folder of a tracker's output in KITTI-MOTS text, one <drive>.txt per drive.")
@_options
def kins_video_car(kins, kitti_raw, tracks, out, window, stride, size, flow, max_videos, workers, shard_size,
                   quiet):
    """Import KINS-Video-Car: KITTI raw drives with the tracker's car masks, and KINS amodal truth on
    the frames KINS annotates (matched by MD5 of the PNG bytes; tracked cars matched to KINS cars by
    visible IoU >= 0.5). Score with `savos eval --protocol savos-kins`.

    Example: savos-gen import kins-video-car --kins /data/kins --kitti-raw /data/kitti_raw
    --tracks /data/pointtrack_mots --window 16 --out data/kins-car
    """

    options = _import_options(window, stride, size, flow, max_videos)
    info = import_kins_video_car(kins, kitti_raw, tracks, out, options, workers=workers,
                                 shard_size=shard_size, progress=not quiet)
    _done(out, info)
