"""The learned baselines of Table 1 ("image-ssl", "oracle-unet", "oracle-savos"): their recipes load,
a few steps overfit a fixed batch, and each goes end to end through `savos train`, `savos predict` and
`savos eval` on a tiny generated Chewing-Gum set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from savos.cli.main import main
from savos.config import load_config
from savos.data import open_dataset
from savos.evaluation.predictions import open_predictions
from savos.models.configs import ImageSSLConfig, OracleUNetConfig, SaVosModelConfig
from savos.models.savos import SaVos
from savos.models.unet import FrameCompleter
from savos.training.batches import StepBatches
from savos.training.distributed import Dist
from savos.training.image_ssl import ImageSSL
from savos.training.methods import METHODS
from savos.training.train import train_step

RECIPES = Path(__file__).parent.parent / "recipes"
SHIPPED = {  # recipe -> (method, model config type, module type)
    "gum-image-ssl.yaml": ("image-ssl", ImageSSLConfig, ImageSSL),
    "gum-oracle-unet.yaml": ("oracle-unet", OracleUNetConfig, FrameCompleter),
    "gum-oracle-savos.yaml": ("oracle-savos", SaVosModelConfig, SaVos),
}
# The shipped recipes shrunk for tests: 16 px patches, 4-frame windows, tiny networks, 3 steps.
TINY = ["data.patch=16", "data.window=4", "data.val_clips=2", "train.batch_size=2", "train.steps=3",
        "train.val_every=3", "train.warmup=1", "train.log_every=1", "train.images=1", "train.threads=1",
        "train.max_minutes=0"]
TINY_MODEL = {
    "image-ssl": ["model.widths=[4, 8]"],
    "oracle-unet": ["model.widths=[4, 8]"],
    "oracle-savos": ["model.enc_widths=[4, 8]", "model.feat=8", "model.hidden=8",
                     "model.completer_widths=[4, 8]", "model.motion_widths=[4, 8]"],
}


def tiny(recipe: str, root: Path, *extra: str):
    method = SHIPPED[recipe][0]
    return load_config(RECIPES / recipe, [f"data.root={root}", *TINY, *TINY_MODEL[method], *extra])


@pytest.mark.parametrize("recipe", sorted(SHIPPED))
def test_shipped_recipe_loads_and_builds(recipe):
    method, model_type, module_type = SHIPPED[recipe]
    config = load_config(RECIPES / recipe)
    assert config.method == method and isinstance(config.model, model_type)
    assert config.train.device == "cpu" and config.train.threads == 2 and 0 < config.train.max_minutes <= 60
    torch.manual_seed(0)
    model = METHODS[method].build(config)
    assert isinstance(model, module_type)
    if module_type is not SaVos:  # the small U-Net of the CPU recipes
        assert sum(p.numel() for p in model.parameters()) < 1_000_000


@pytest.mark.parametrize("recipe", sorted(SHIPPED))
def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(recipe, gum_root):
    config = tiny(recipe, gum_root, "train.grad_clip=0")
    method = METHODS[config.method]
    batch = StepBatches(str(gum_root), "train", 16, config.data.enlarge, 4, 2, 0)[0]
    torch.manual_seed(0)
    model = method.build(config)
    opt = torch.optim.Adam(model.parameters())
    d = Dist(0, 1, torch.device("cpu"))
    losses = [train_step(model, opt, batch, method.step, config.loss, lr=1e-2,
                         grad_clip=config.train.grad_clip, d=d)[0]["total"] for _ in range(15)]
    assert all(math.isfinite(x) for x in losses)
    assert min(losses[-3:]) < 0.8 * losses[0], losses


def test_image_ssl_training_ignores_the_ground_truth(gum_root):
    config = tiny("gum-image-ssl.yaml", gum_root)
    method = METHODS["image-ssl"]
    batch = StepBatches(str(gum_root), "train", 16, config.data.enlarge, 4, 2, 0)[0]
    torch.manual_seed(0)
    model = method.build(config)
    before = method.step(model, batch, config.loss)[0]["total"].item()
    batch.amodal = torch.full_like(batch.amodal, float("nan"))
    assert method.step(model, batch, config.loss)[0]["total"].item() == before


def _invoke(args, code=0):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    return result


@pytest.mark.parametrize("recipe", sorted(SHIPPED))
def test_cli_train_predict_eval(recipe, gum_root, tmp_path):
    method = SHIPPED[recipe][0]
    sets = [a for s in [f"data.root={gum_root}", *TINY, *TINY_MODEL[method]] for a in ("--set", s)]
    run, pred = tmp_path / "run", tmp_path / "pred"
    result = _invoke(["train", str(RECIPES / recipe), *sets, "--out", str(run), "--quiet"])
    assert "finished at step 3" in result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert math.isfinite(metrics["best_val_loss"]) and {"miou_full", "miou_occluded"} <= set(metrics["last"])

    _invoke(["predict", str(run), str(gum_root), "--split", "test", "--out", str(pred), "--quiet"])
    preds = open_predictions(pred)
    assert preds.info["method"] == method and len(preds) == 3
    for clip in open_dataset(gum_root, "test"):
        amodal, predicted = preds.load(clip.key)
        assert amodal.shape == clip.amodal.shape and amodal.dtype == bool
        assert predicted.tolist() == [k in clip.target_ids() for k in range(clip.num_objects)]

    result = _invoke(["eval", str(pred), str(gum_root), "--split", "test", "--quiet"])
    scores = json.loads((pred / "metrics_savos.json").read_text())
    assert "summary" in scores and scores["summary"]["num_clips"] == 3, result.output
