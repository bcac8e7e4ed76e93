"""Write a tiny dataset folder with the library and read it back as Clips.

    python examples/open_dataset.py [OUT_DIR]
"""

import sys
from dataclasses import asdict
from functools import partial

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos import __version__
from savos.data import open_dataset
from savos.data.writer import write_dataset

out = sys.argv[1] if len(sys.argv) > 1 else "out/example-data"
config = ChewingGumConfig()
make = partial(generate_clip, config, 0)  # (index, split) -> Clip
description = {"generator": "chewing-gum", "version": __version__, "seed": 0, "config": asdict(config),
               "amodal_flow": config.amodal_flow}
write_dataset(out, make, {"train": 8, "val": 2, "test": 2}, description,
              shard_size=4, workers=1, progress=False)
clips = open_dataset(out, "test")
print(f"{out}: {len(clips)} test clips; first is {clips[0].key} with {clips[0].num_objects} objects")
print("meta keys:", sorted(clips[0].meta))
