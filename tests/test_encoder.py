"""The frame-by-frame encoding (``savos.data.encoder``, ``importers/stream.py``) writes the bytes of the
in-memory path (``codec.encode_clip`` of ``assemble.build_clip``)."""

from __future__ import annotations

import numpy as np
import pytest

from savos.data.clip import Clip
from savos.data.codec import encode_clip
from savos.data.encoder import ClipEncoder
from savos.data.importers.assemble import ImportOptions
from savos.data.importers.fishbowl import FishbowlLoader
from savos.data.importers.plan import plan_items
from savos.data.importers.samples import make_fishbowl_raw, make_fishbowl_wds
from savos.data.importers.stream import StreamedImport


def _clip(rng, T, K, H, W, source=True):
    rgb = rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8)
    amodal = rng.random((T, K, H, W)) < 0.4
    visible = np.zeros((T, H, W), np.uint8)
    for k in range(K):
        visible[amodal[:, k]] = k + 1
    def flow():
        moving = rng.random((T - 1, H, W, 1)) < 0.6
        return (np.round(rng.normal(0, 3, (T - 1, H, W, 2)) * 8) / 8 * moving).astype(np.float32)
    fwd, bwd = flow(), flow()
    fwd[0, 0, 0] = (2000, -2000)  # deltas beyond int16 in one flow only
    meta = {"source": {"video": "v"}} if source else {}
    return Clip(rgb, visible, amodal, fwd, bwd, None, meta, rng.random((T, K)) < 0.7)


@pytest.mark.parametrize("shape", [(2, 1, 3, 3), (3, 2, 5, 7), (4, 3, 16, 24)])
@pytest.mark.parametrize("source", [True, False])
def test_clip_encoder_gives_encode_clip_bytes(shape, source):
    clip = _clip(np.random.default_rng(sum(shape)), *shape, source=source)
    T, K, H, W = shape
    enc = ClipEncoder(T, K, H, W, clip.visible.dtype, rgb_delta=source)
    for t in range(T):
        enc.frame(clip.rgb[t], clip.visible[t], clip.amodal[t])
        if t:
            enc.flow(clip.flow_fwd[t - 1], clip.flow_bwd[t - 1])
    assert enc.finish(clip.meta, clip.amodal_known) == encode_clip(clip, validate=False)


def _both(loader, options):
    items = plan_items(loader, loader.splits(), options, progress=False)
    maker = StreamedImport(loader, items, options, {"test": 1})
    assert items
    for i, (split, *_rest) in enumerate(items):
        assert maker.encode(i, split) == encode_clip(maker(i, split)), items[i]


@pytest.mark.parametrize("options", [ImportOptions(), ImportOptions(window=3, stride=2),
                                     ImportOptions(height=16, width=20, flow="dis-medium")])
def test_streamed_import_gives_the_in_memory_bytes(tmp_path, options):
    make_fishbowl_raw(tmp_path / "raw", videos=2, T=6, H=24, W=32, K=4)
    _both(FishbowlLoader(tmp_path / "raw", "raw"), options)
    make_fishbowl_wds(tmp_path / "wds", T=5)
    _both(FishbowlLoader(tmp_path / "wds", "webdataset"), options)
