"""Generate Chewing-Gum clips in-process (no files) and look at their ground truth.

    python examples/generate_in_process.py
"""

from generators.chewing_gum import ChewingGumConfig, generate_clip

config = ChewingGumConfig(height=64, width=64, frames=16)
for index in range(3):
    clip = generate_clip(config, seed=0, index=index, split="train")  # rng([seed, index]) alone
    rate = clip.occlusion_rate()[:, clip.target_ids()]  # (T, targets)
    T, K, H, W = clip.amodal.shape
    print(f"{clip.key}: T={T} K={K} {H}x{W}, target occlusion rate "
          f"min {rate.min():.2f} mean {rate.mean():.2f} max {rate.max():.2f}, "
          f"max |flow| {abs(clip.flow_fwd).max():.2f} px")
