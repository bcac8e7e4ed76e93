"""Travelling occluders: SaVos's lever for the parts that no frame of a clip shows (``loss.occlude``).

The SaVos loss (savos.training.losses) supervises a hidden part of an object only through a frame where
that part is visible. A part that no frame shows — behind a rock the fish swims along, behind a car
parked in front for the whole clip — gets no signal from its own clip; only a shape prior learned across
clips can complete it. But with carried evidence (``model.carry``), every part the loss could check is
already handed to the completer, so the network learns to copy and never to complete.

A travelling occluder makes training tracks look like those test tracks. With probability ``occlude``
per track, one artificial occluder O (another track's visible mask, flipped and shifted over the object:
``savos.training.image_ssl.artificial_occlusion``, hiding 10-70 % of the object at its largest frame) is
put over the object in the same place of every frame of the window — in the crop, which follows the
object, so it travels with it. On the **inputs only**:

- the visible mask V becomes V ∧ ¬O at every frame, so neither the frame nor the carry shows that part;
- the other objects' masks become others ∪ O (the network is told where the object may be hidden);
- the rgb under O is the next track's rgb there (a texture, as a real occluder has; black would tell the
  network which occluders are artificial), and both flows under O become the mean flow of the visible part
  (an occluder that travels with the object moves as it does; the object's own flow would trace it).

The loss keeps the true V and others, so the hidden part is supervised where it is in fact visible —
with no amodal label: the network learns to complete from shape alone what nothing in its input shows.
It is PCNet-M's artificial occlusion (the image-ssl baseline) made constant over time, inside SaVos's
temporal loss. Validation and prediction never see it.

Randomness: a ``torch.Generator`` seeded by the batch's identity (``image_ssl.batch_seed``), so training
stays a pure function of (seed, step) and resumes exactly.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from savos.models.savos import masked_mean_flow
from savos.tracks import TrackBatch
from savos.training.image_ssl import artificial_occlusion, batch_seed

MAX_OFFSET = 0.25  # the occluder's centre within ± MAX_OFFSET x the patch of the object's (as image-ssl)


def travelling_occluders(batch: TrackBatch, prob: float) -> TrackBatch:
    """The batch with a travelling occluder on the inputs of each track with probability ``prob``
    (module docstring); ``prob`` 0 returns the batch itself. Only rgb, visible, others and the flows
    change; valid, amodal and the identity fields are kept."""
    if prob <= 0:
        return batch
    B, T, _, Ph, Pw = batch.visible.shape
    gen = torch.Generator().manual_seed(batch_seed(batch))
    rows = torch.arange(B, device=batch.visible.device)
    area = torch.where(batch.valid, batch.visible.sum((2, 3, 4)), torch.zeros(B, T, device=rows.device))
    ref = area.argmax(1)  # (B,) each track's frame of largest visible area: the occluder is placed there
    occ = artificial_occlusion(batch.visible[rows, ref], batch.others[rows, ref], rows.cpu(),
                               batch.valid[rows, ref], 1.0, MAX_OFFSET, gen)
    use = (torch.rand(B, generator=gen) < prob).to(batch.visible)  # (B,)
    hide = (occ.artificial * use[:, None, None, None])[:, None]  # (B, 1, 1, Ph, Pw): every frame
    keep = 1.0 - hide
    visible = batch.visible * keep
    others = batch.others + hide - batch.others * hide

    def flow(f: torch.Tensor) -> torch.Tensor:  # (B, T, 2, Ph, Pw): the mean visible flow under O
        mean = masked_mean_flow(f.flatten(0, 1), visible.flatten(0, 1)).view(B, T, 2, 1, 1)
        return f * keep + mean * hide

    rgb = batch.rgb * keep + batch.rgb.roll(1, dims=0) * hide  # another track's texture under O
    return replace(batch, rgb=rgb, visible=visible, others=others,
                   flow_fwd=flow(batch.flow_fwd), flow_bwd=flow(batch.flow_bwd))
