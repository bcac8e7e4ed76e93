"""The Clip format: the one owner of how clips look in memory and on disk (numpy only)."""

from savos.data.clip import Clip, ClipError, clip_key, occlusion_rate
from savos.data.dataset import ClipDataset, fingerprint, open_dataset, read_info
from savos.data.shards import ShardError

__all__ = [
    "Clip",
    "ClipDataset",
    "ClipError",
    "ShardError",
    "clip_key",
    "fingerprint",
    "occlusion_rate",
    "open_dataset",
    "read_info",
]
