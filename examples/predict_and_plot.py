"""Predict the amodal masks of one clip with a trained run and save a picture of one frame.

    python examples/predict_and_plot.py RUN_DIR DATA_DIR OUT.png
"""

import sys

import numpy as np
import torch
from PIL import Image

from savos.data import open_dataset
from savos.data.viz import label_colors
from savos.evaluation.predict import load_run, predict_clip

run, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
model, config, _, step = load_run(run, torch.device("cpu"))
clip = open_dataset(data, "test")[0]
amodal, predicted = predict_clip(model, config.method, clip, config.data.patch, config.data.enlarge,
                                 batch=8, device=torch.device("cpu"))
k, t = clip.target_ids()[0], clip.num_frames // 2
panels = [clip.rgb[t], label_colors(clip.visible[t])]
for mask in (clip.amodal[t, k], amodal[t, k]):  # ground truth, then prediction
    panels.append(np.where(mask[..., None], 255, 40).astype(np.uint8).repeat(3, axis=-1))
row = np.concatenate(panels, axis=1).repeat(4, axis=0).repeat(4, axis=1)
Image.fromarray(row).save(out)
inter = (amodal[t, k] & clip.amodal[t, k]).sum()
union = (amodal[t, k] | clip.amodal[t, k]).sum()
print(f"{out}: frame {t}, object {k}: IoU {inter / max(union, 1):.3f} (model step {step})")
