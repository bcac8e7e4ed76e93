"""Object-motion estimators (savos.motion): recovery of a known affine motion on a hand-made clip, the
default that keeps the carry's and the union rule's output, and the flag and recipe key that pick one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from generators.scenes.config import load_scene
from generators.scenes.engine import generate_clip
from savos.cli.main import main
from savos.config import ConfigError, load_config
from savos.errors import SavosError
from savos.evaluation.baselines import run_baseline, union_baseline
from savos.models.carry import carry
from savos.models.configs import SaVosModelConfig
from savos.models.savos import build_savos
from savos.motion import MOTIONS, align_masks, check_motion, step_motions
from savos.tracks import TrackBatch
from savos.trajectory import smooth_similarities

ROOT = Path(__file__).resolve().parent.parent

H = W = 48
T = 5
# frame t -> frame t-1 of the hand-made clip: a small rotation with a sub-pixel shift, about (24, 24)
ANGLE, SHIFT = np.deg2rad(2.0), np.array([0.6, -0.35])


def _truth() -> np.ndarray:
    """(2, 3): p -> R (p - c) + c + SHIFT, the motion of every frame t to t-1."""
    c, s = np.cos(ANGLE), np.sin(ANGLE)
    rot = np.array([[c, -s], [s, c]])
    centre = np.array([24.0, 24.0])
    return np.concatenate([rot, (centre + SHIFT - rot @ centre)[:, None]], axis=1)


def _clip(noise: float = 0.0, seed: int = 0, frames: int = T
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A star-shaped object under the known motion, its masks and the flow t -> t-1 on frame t.

    Returns visible (1, T, 1, H, W), flow_back (1, T, 2, H, W) (+ Gaussian noise of ``noise`` px, made
    smooth as an estimate's error is) and others (1, T, 1, H, W): a bar hiding part of the object."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    truth = _truth()
    to_prev = np.eye(3)
    to_prev[:2] = truth
    pose = np.eye(3)  # frame t -> frame 0
    vis, flows = [], []
    bar = np.zeros((H, W), bool)
    bar[:, 30:34] = True
    for _ in range(frames):
        x0 = pose[0, 0] * xs + pose[0, 1] * ys + pose[0, 2] - 24.0  # position in frame 0's object frame
        y0 = pose[1, 0] * xs + pose[1, 1] * ys + pose[1, 2] - 24.0
        r, a = np.hypot(x0, y0), np.arctan2(y0, x0)
        inside = r <= 10.0 + 2.5 * np.cos(5 * a)
        vis.append(inside & ~bar)
        flows.append(np.stack([truth[0, 0] * xs + truth[0, 1] * ys + truth[0, 2] - xs,
                               truth[1, 0] * xs + truth[1, 1] * ys + truth[1, 2] - ys]))
        pose = pose @ to_prev
    flow = np.stack(flows).astype(np.float32)  # (T, 2, H, W)
    if noise:
        white = torch.from_numpy(rng.normal(0, 1, flow.shape).astype(np.float32))
        blur = torch.nn.functional.avg_pool2d(white, 5, stride=1, padding=2) * 5.0  # unit std, smooth
        flow = flow + noise * blur.numpy()
    flow[0] = 0.0
    others = np.broadcast_to(bar, (frames, H, W))
    as_t = [torch.from_numpy(np.ascontiguousarray(a, np.float32))[None] for a in (vis, flow, others)]
    return as_t[0][:, :, None], as_t[1], as_t[2][:, :, None]


def _error(maps: torch.Tensor, visible: torch.Tensor) -> float:
    """Mean distance (px) between where maps (1, T, 2, 3) and the truth take each frame's object pixels."""
    errors = []
    for t in range(1, maps.shape[1]):
        d = maps[0, t].double().numpy() - _truth()
        ys, xs = np.nonzero(visible[0, t, 0].numpy() > 0)
        dx, dy = d[0, 0] * xs + d[0, 1] * ys + d[0, 2], d[1, 0] * xs + d[1, 1] * ys + d[1, 2]
        errors.append(np.hypot(dx, dy).mean())
    return float(np.mean(errors))


TOLERANCE = {"affine-lsq": 0.02, "affine-irls": 0.03, "mask-align": 0.25, "mask-align-sim": 0.2,
             "mask-align-smooth": 0.2}  # px


@pytest.mark.parametrize("name", list(MOTIONS))
def test_each_estimator_recovers_a_known_motion_from_exact_flow(name):
    visible, flow, others = _clip()
    maps, fitted = step_motions(name, visible, flow, others)
    assert maps.shape == (1, T, 2, 3) and fitted[0, 1:].all()
    assert _error(maps, visible) <= TOLERANCE[name], name


def test_mask_alignment_survives_noisy_flow():
    visible, flow, others = _clip(noise=0.6, seed=1)
    lsq, _ = step_motions("affine-lsq", visible, flow, others)
    best, _ = step_motions("mask-align-sim", visible, flow, others)
    assert _error(lsq, visible) > 0.2  # the flow fit inherits the noise
    assert _error(best, visible) <= TOLERANCE["mask-align-sim"]


def test_smoothing_over_time_beats_each_frame_alone_on_noisy_flow():
    visible, flow, others = _clip(noise=0.6, seed=2, frames=12)
    alone, _ = step_motions("mask-align-sim", visible, flow, others)
    smooth, fitted = step_motions("mask-align-smooth", visible, flow, others)
    assert fitted[0, 1:].all()
    assert _error(smooth, visible) < 0.6 * _error(alone, visible)
    assert _error(smooth, visible) <= 0.1


def test_smoothing_keeps_a_steady_motion_and_ignores_one_bad_frame():
    visible, _, _ = _clip(frames=10)
    truth = torch.from_numpy(_truth()).float()
    maps = truth.expand(1, 10, 2, 3).clone()
    maps[0, 0] = torch.eye(2, 3)
    bad = maps.clone()
    bad[0, 5, :, 2] += torch.tensor([1.5, -1.0])  # one frame's estimate off by 1.8 px
    fitted = torch.ones(1, 10, dtype=torch.bool)
    assert torch.allclose(smooth_similarities(maps, fitted, visible), maps, atol=1e-4)
    out = smooth_similarities(bad, fitted, visible)
    assert _error(out, visible) < 0.25 * _error(bad, visible)
    unfitted = fitted.clone()
    unfitted[0, 5] = False  # a frame with no vote gets its neighbours' motion
    assert torch.allclose(smooth_similarities(bad, unfitted, visible), maps, atol=1e-4)


def test_alignment_keeps_its_start_where_no_boundary_is_known():
    visible, flow, others = _clip()
    init = torch.eye(2, 3)[None] + torch.tensor([[[0.0, 0.0, 0.4], [0.0, 0.0, 0.0]]])
    hidden = torch.zeros_like(visible[:, 1])  # nothing known: the map cannot be measured
    out = align_masks(visible[:, 1], visible[:, 0], hidden, hidden, init)
    assert torch.equal(out, init)


def test_the_default_estimator_is_the_carry_of_the_visible_flow():
    visible, flow, _ = _clip(noise=0.3)
    assert torch.equal(carry(visible, flow), carry(visible, flow, motion="affine-lsq"))


def test_union_output_is_identical_with_and_without_the_default_motion():
    cfg = load_scene(ROOT / "recipes" / "scenes" / "gum-dis.yaml")
    clip = generate_clip(cfg, 0, 0, "test")
    plain, _ = union_baseline(clip)
    named, _ = union_baseline(clip, motion="affine-lsq")
    assert np.array_equal(plain, named)
    other, _ = union_baseline(clip, motion="mask-align-sim")
    assert other.shape == plain.shape and not np.array_equal(other, plain)


def test_unknown_motion_names_are_one_line_errors(tmp_path):
    with pytest.raises(SavosError, match="unknown motion estimator 'nope'; choose one of affine-lsq"):
        check_motion("nope")
    with pytest.raises(SavosError, match="carry_motion"):
        SaVosModelConfig(carry=True, carry_motion="nope")
    with pytest.raises(SavosError, match="model.carry_motion"):
        build_savos(patch=32, carry=True, carry_motion="nope")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model:\n  carry: true\n  carry_motion: nope\n")
    with pytest.raises(ConfigError) as e:
        load_config(recipe)
    assert str(e.value).startswith(f"{recipe}: model.carry_motion: must be one of affine-lsq")
    assert "\n" not in str(e.value)
    recipe.write_text("model:\n  carry: true\n  carry_motion: mask-align-sim\n")
    assert load_config(recipe).model.carry_motion == "mask-align-sim"
    with pytest.raises(SavosError, match="--motion"):
        run_baseline("union", tmp_path / "missing", "test", tmp_path / "out", motion="nope")
    with pytest.raises(SavosError, match="option of the union baseline"):
        run_baseline("convex", tmp_path / "missing", "test", tmp_path / "out", motion="mask-align")
    result = CliRunner().invoke(main, ["baseline", "union", str(tmp_path), "--out", str(tmp_path / "o"),
                                       "--motion", "nope"])
    assert result.exit_code != 0
    assert "unknown motion estimator 'nope'" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_savos_with_carry_runs_with_a_mask_aligning_motion():
    model = build_savos(patch=32, carry=True, carry_motion="mask-align-sim").eval()
    B, L = 1, 4
    g = torch.Generator().manual_seed(0)
    vis = (torch.rand(B, L, 1, 32, 32, generator=g) > 0.5).float()
    batch = TrackBatch(rgb=torch.rand(B, L, 3, 32, 32, generator=g), visible=vis,
                       others=torch.zeros_like(vis), flow_fwd=torch.zeros(B, L, 2, 32, 32),
                       flow_bwd=torch.zeros(B, L, 2, 32, 32), valid=torch.ones(B, L, dtype=torch.bool),
                       amodal=vis)
    with torch.no_grad():
        out = model(batch)
    assert out.amodal.shape == (B, L, 1, 32, 32) and torch.isfinite(out.amodal).all()
