"""Training methods: ``METHODS``, the one registry, a plain dict from the recipe's ``method`` name to
everything about that method. Recipe loading (``savos.config``: which ``model`` section to parse), the
trainer, the predictor and ``savos adapt`` all read it.

A method is its recipe ``model`` section (a frozen dataclass), a builder (resolved Config -> fresh
nn.Module), a training step (module, batch, loss config -> losses with key "total" and the amodal
probabilities used for logging and validation IoU) and a prediction function (module, batch -> amodal
probabilities). A baseline (e.g. "image-ssl", "oracle-unet", "oracle-savos") slots in as one more entry
of ``METHODS``; nothing else in the recipes, the trainer or the predictor changes.

A ``supervised`` method (an oracle) reads ``batch.amodal``, and only where ``batch.known``; the trainer
refuses a training split without any known amodal pair for it (``savos.training.oracle.check_truth``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from savos.models.configs import ImageSSLConfig, OracleUNetConfig, SaVosModelConfig, check_patch
from savos.models.savos import build_savos
from savos.training.hide import travelling_occluders
from savos.training.image_ssl import build_image_ssl, image_ssl_predict, image_ssl_step
from savos.training.losses import savos_loss
from savos.training.oracle import (
    build_oracle_unet,
    oracle_savos_step,
    oracle_unet_predict,
    oracle_unet_step,
)

if TYPE_CHECKING:
    from savos.config import Config, LossConfig
    from savos.tracks import TrackBatch

    # (module, batch, loss config) -> ({"total": scalar, ...}, amodal probabilities (B, T, 1, P, P))
    Step = Callable[[nn.Module, TrackBatch, LossConfig], tuple[dict[str, torch.Tensor], torch.Tensor]]


@dataclass(frozen=True)
class Method:
    model_config: type  # dataclass of the recipe's `model` section
    build: Callable[[Config], nn.Module]
    step: Step  # (module, batch, loss config) -> ({"total": scalar, ...}, amodal probabilities)
    # (module, batch) -> amodal probabilities (B, T, 1, P, P)
    predict: Callable[[nn.Module, TrackBatch], torch.Tensor]
    # The step reads the ground truth (batch.amodal): an oracle. `savos adapt` refuses such a method.
    supervised: bool = False


def build_savos_model(config: Config) -> nn.Module:
    m = config.model
    levels = max(len(m.enc_widths), len(m.completer_widths), len(m.motion_widths))
    check_patch(config.data.patch, levels, "the deepest of model.*_widths", config.source)
    return build_savos(patch=config.data.patch, **asdict(m))


def savos_step(model: nn.Module, batch: TrackBatch, loss: LossConfig) -> tuple[dict[str, Any], torch.Tensor]:
    # the loss reads the true masks: a travelling occluder hides parts from the inputs only
    out = model(travelling_occluders(batch, loss.occlude) if model.training else batch)
    losses = savos_loss(out, batch, lambda1=loss.lambda1, lambda2=loss.lambda2,
                        merged_weight=loss.merged_weight, horizon=loss.horizon,
                        lambda3=loss.lambda3, lambda0=loss.lambda0)
    return losses, out.amodal


def savos_predict(model: nn.Module, batch: TrackBatch) -> torch.Tensor:
    return model(batch).amodal


METHODS: dict[str, Method] = {
    "savos": Method(SaVosModelConfig, build_savos_model, savos_step, savos_predict),
    # Learned baselines of Table 1 (savos/training/image_ssl.py, savos/training/oracle.py).
    "image-ssl": Method(ImageSSLConfig, build_image_ssl, image_ssl_step, image_ssl_predict),
    "oracle-unet": Method(OracleUNetConfig, build_oracle_unet, oracle_unet_step, oracle_unet_predict,
                          supervised=True),
    "oracle-savos": Method(SaVosModelConfig, build_savos_model, oracle_savos_step, savos_predict,
                           supervised=True),
}
