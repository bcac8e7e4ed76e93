"""`savos-gen import video`: a user's mp4 or frame folder with indexed-PNG or MOTS instance masks."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from savos.cli.gen import main
from savos.data import open_dataset
from savos.data.importers.samples import fish_scene, rle, write_mp4

pytest.importorskip("cv2")
pytest.importorskip("pycocotools")
T, H, W = 5, 24, 32


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def scene():
    return fish_scene(np.random.default_rng(3), T, H, W, 3)


def write_pngs(folder, visible, ids):
    folder.mkdir()
    for t in range(T):
        lab = np.zeros((H, W), np.uint8)
        for k, i in enumerate(ids):
            lab[visible[t, k]] = i
        im = Image.fromarray(lab).convert("P")  # indices kept: L -> P maps grey levels to themselves
        im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [128] * (253 * 3))
        im.save(folder / f"{t:05d}.png")


def write_mots(path, visible, ids, swap=False):
    lines = []
    for t in range(T):
        for k, i in enumerate(ids):
            if visible[t, k].any():
                h, w = (W, H) if swap else (H, W)
                lines.append(f"{t} {1000 + i} 1 {h} {w} {rle(visible[t, k])['counts']}")
    path.write_text("\n".join(lines) + "\n")


def test_mp4_with_indexed_pngs(scene, tmp_path):
    rgb, _, visible = scene
    write_mp4(tmp_path / "clip.mp4", rgb)
    write_pngs(tmp_path / "masks", visible, [3, 7, 9])
    r = run("import", "video", tmp_path / "clip.mp4", "--masks", tmp_path / "masks", "--out", tmp_path / "ds",
            "-q", "--workers", "1")
    assert r.exit_code == 0, r.output
    clip = open_dataset(tmp_path / "ds", "test")[0]
    assert [o["source_id"] for o in clip.meta["objects"]] == [3, 7, 9]
    for k in range(3):
        np.testing.assert_array_equal(clip.visible == k + 1, visible[:, k])
    assert not clip.amodal_known.any()
    assert clip.meta["source"] == {"dataset": "video", "video": "clip", "frames": list(range(T))}
    r = run("verify", tmp_path / "ds", "-q", "--workers", "1")
    assert r.exit_code == 0 and "OK" in r.output, r.output
    r = run("preview", tmp_path / "ds", "--split", "test", "--out", tmp_path / "clip.gif")
    assert r.exit_code == 0 and (tmp_path / "clip.gif").stat().st_size > 0, r.output


def test_frame_folder_with_mots(scene, tmp_path):
    rgb, _, visible = scene
    (tmp_path / "frames").mkdir()
    for t in range(T):
        Image.fromarray(rgb[t]).save(tmp_path / "frames" / f"{t:06d}.png")
    write_mots(tmp_path / "tracks.txt", visible, [1, 2, 3])
    r = run("import", "video", tmp_path / "frames", "--masks", tmp_path / "tracks.txt", "--window", "3",
            "--stride", "2", "--out", tmp_path / "ds", "-q", "--workers", "1")
    assert r.exit_code == 0, r.output
    ds = open_dataset(tmp_path / "ds", "test")
    assert len(ds) == 2
    clip = ds[1]
    np.testing.assert_array_equal(clip.rgb, rgb[2:5])  # PNG frames are lossless
    assert clip.meta["source"]["frames"] == [2, 3, 4]
    assert {o["category"] for o in clip.meta["objects"]} == {"car"}
    ids = [o["source_id"] for o in clip.meta["objects"]]
    for j, i in enumerate(ids):
        np.testing.assert_array_equal(clip.visible == j + 1, visible[2:5, i - 1001])


def test_swapped_mots_size_and_frame_mismatch_are_one_line(scene, tmp_path):
    rgb, _, visible = scene
    write_mp4(tmp_path / "clip.mp4", rgb)
    write_mots(tmp_path / "tracks.txt", visible, [1, 2, 3], swap=True)
    r = run("import", "video", tmp_path / "clip.mp4", "--masks", tmp_path / "tracks.txt", "--out",
            tmp_path / "ds", "-q", "--workers", "1")
    assert r.exit_code == 2 and "tracks.txt:1" in r.output and "swapped" in r.output
    assert len(r.output.strip().splitlines()) == 1
    write_pngs(tmp_path / "masks", visible[:, :], [1, 2, 3])
    (tmp_path / "masks" / "00004.png").unlink()
    r = run("import", "video", tmp_path / "clip.mp4", "--masks", tmp_path / "masks", "--out",
            tmp_path / "ds2", "-q", "--workers", "1")
    assert r.exit_code == 2 and "frame-count mismatch" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_a_one_frame_video_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "frames" / "0.png")
    Image.fromarray(np.ones((16, 16), np.uint8)).save(tmp_path / "masks" / "0.png")
    r = run("import", "video", tmp_path / "frames", "--masks", tmp_path / "masks", "--out", tmp_path / "ds")
    assert r.exit_code == 2 and "no clips to import" in r.output
    assert not (tmp_path / "ds").exists()
