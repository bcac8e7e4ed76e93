"""Train SaVos for a few steps on a tiny dataset with the library API (the same code as `savos train`).

    python examples/train_few_steps.py DATA_DIR RUN_DIR
"""

import sys

from savos.config import load_config
from savos.training.train import train

data, run = sys.argv[1], sys.argv[2]
config = load_config("recipes/gum-tiny.yaml", [f"data.root={data}", "train.steps=4", "train.val_every=4"])
summary = train(config, run, progress=False)
print(f"{run}: {summary['status']} at step {summary['step']}, best val loss {summary['best_val_loss']:.4f}")
