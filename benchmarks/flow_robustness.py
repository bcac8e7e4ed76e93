"""Flow sources against motion sources: how well each object's motion survives estimated flow.

For each scene preset and flow source, the same clips (same seed) are made with the generator's
real-video conditions (``flow`` / ``video_codec``, generators/scenes/realvideo.py) and stored through
the clip codec, as a dataset holds them. Every flow source's clips have the same exact masks and amodal
flow, so each estimate is scored against the exact truth of its own clip:

- EPE obj: end-point error of the stored visible flow on object pixels, forward and backward, px per
  frame (0 for exact flow up to the codec's 1/64 px);
- motion /frame: per object and frame t, a motion source's affine motion t -> t + 1 against the exact
  one (the affine fit of the exact amodal flow over the whole amodal mask: exact for rigid and affine
  motion, the closest affine map for non-rigid motion), as the mean distance between where the two take
  the object's amodal pixels, px;
- motion x8: the same after chaining 8 consecutive motions (as ``model.carry`` and the union rule chain
  them), px over 8 frames;
- obj-frames: the object-frames scored (a motion is fitted only where the object shows at least
  realvideo.MIN_PIXELS pixels that are not a sliver);
- s/clip: seconds to make one clip with that flow source (render + codec + estimate), one thread.

    python benchmarks/flow_robustness.py [--clips 10] [--presets gum,camera,textured,nonrigid]
        [--flows exact,dis-fine,dis-medium,farneback,dis-fine+h264] [--motions affine-lsq,carry-fit]

Motion sources plug in through ``MOTION_SOURCES``: name -> a function of a clip giving each object's
motion t -> t + 1, maps (T-1, K, 2, 3) (p -> A p + b, pixel (r, c) at x = c, y = r) and ok (T-1, K)
(False: no estimate for that object-frame; it is not scored). A motion source may read what a real video
has: ``clip.rgb``, ``clip.visible``, ``clip.flow_fwd``, ``clip.flow_bwd``; never the amodal truth.
Flow sources are ``FLOW_SOURCES``: name -> the config's (flow, video_codec).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from generators.scenes.config import load_scene
from generators.scenes.engine import generate_clip
from generators.scenes.realvideo import chain, exact_motions, motion_errors, object_motions
from savos.data.clip import Clip
from savos.data.codec import decode_clip, encode_clip

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ("gum", "camera", "textured", "nonrigid")
FLOW_SOURCES: dict[str, tuple[str, str]] = {  # name -> (flow, video_codec) of the scene config
    "exact": ("exact", "none"),
    "dis-fine": ("dis-fine", "none"),
    "dis-medium": ("dis-medium", "none"),
    "dis-fast": ("dis-fast", "none"),
    "farneback": ("farneback", "none"),
    "dis-fine+h264": ("dis-fine", "h264"),
}
DEFAULT_FLOWS = ("exact", "dis-fine", "dis-medium", "farneback", "dis-fine+h264")
CHAIN = 8

Motion = Callable[[Clip], tuple[np.ndarray, np.ndarray]]


def affine_lsq(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine fit of the forward flow over each object's visible mask (numpy)."""
    return object_motions(clip.flow_fwd, clip.visible, clip.num_objects)


def carry_fit(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """The fit ``model.carry`` and the union rule use (savos.models.carry.affine_fit: weighted least
    squares with a 1 px^2 ridge towards a translation), on the forward flow over each visible mask."""
    import torch  # lazy: only this motion source needs torch

    from savos.models.carry import MIN_MASS, affine_fit

    T, H, W = clip.visible.shape
    K = clip.num_objects
    masks = clip.visible[:-1, None] == np.arange(1, K + 1, dtype=clip.visible.dtype)[None, :, None, None]
    flow = torch.from_numpy(np.ascontiguousarray(clip.flow_fwd.transpose(0, 3, 1, 2)))  # (T-1, 2, H, W)
    flow = flow[:, None].expand(T - 1, K, 2, H, W).reshape(-1, 2, H, W).double()
    weight = torch.from_numpy(masks.reshape(-1, 1, H, W)).double()
    mean, jac, pc = (x.numpy() for x in affine_fit(flow, weight))
    lin = np.eye(2) + jac
    shift = mean + pc - (lin @ pc[..., None])[..., 0]
    maps = np.concatenate([lin, shift[..., None]], axis=-1).reshape(T - 1, K, 2, 3)
    return maps, masks.sum(axis=(2, 3)) >= MIN_MASS


MOTION_SOURCES: dict[str, Motion] = {"affine-lsq": affine_lsq, "carry-fit": carry_fit}


def _stored(clip: Clip) -> Clip:
    return decode_clip(dict(encode_clip(clip)))


def measure(preset: str, flows: list[str], motions: list[str], clips: int, seed: int = 0) -> list[dict]:
    """One row per (flow source, motion source) of ``preset``: the module docstring's columns."""
    base = load_scene(ROOT / "recipes" / "scenes" / f"{preset}.yaml")
    exact = [_stored(generate_clip(base, seed, i, "test")) for i in range(clips)]
    refs = [exact_motions(c.amodal_flow_fwd, c.amodal) for c in exact]
    rows = []
    for name in flows:
        flow, codec = FLOW_SOURCES[name]
        cfg = dataclasses.replace(base, flow=flow, video_codec=codec)
        t0 = time.perf_counter()
        made = [generate_clip(cfg, seed, i, "test") for i in range(clips)]
        seconds = (time.perf_counter() - t0) / clips
        made = [_stored(c) for c in made]
        err = np.concatenate([np.linalg.norm(got - want, axis=-1)[labels > 0]
                              for c, e in zip(made, exact, strict=True)
                              for got, want, labels in ((c.flow_fwd, e.flow_fwd, e.visible[:-1]),
                                                        (c.flow_bwd, e.flow_bwd, e.visible[1:]))])
        for motion in motions:
            per_frame, chained = [], []
            for c, e, (ref, ref_ok) in zip(made, exact, refs, strict=True):
                est, ok = MOTION_SOURCES[motion](c)
                per_frame.append(motion_errors(est, ref, ok & ref_ok, e.amodal[:-1]))
                if len(est) >= CHAIN:
                    (ce, cok), (cr, crok) = chain(est, ok, CHAIN), chain(ref, ref_ok, CHAIN)
                    chained.append(motion_errors(ce, cr, cok & crok, e.amodal[:len(ce)]))
            pf = np.concatenate(per_frame)
            ch = np.concatenate(chained) if chained else np.zeros(0)
            rows.append({"preset": preset, "flow": name, "motion": motion, "epe_obj": float(err.mean()),
                         "motion_frame": float(pf.mean()) if len(pf) else float("nan"),
                         "motion_chain": float(ch.mean()) if len(ch) else float("nan"),
                         "object_frames": int(len(pf)), "seconds_per_clip": seconds})
    return rows


def format_table(rows: list[dict]) -> str:
    head = (f"{'preset':9s} {'flow':14s} {'motion':11s} {'EPE obj':>8s} {'motion /frame':>13s} "
            f"{f'motion x{CHAIN}':>10s} {'obj-frames':>10s} {'s/clip':>7s}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['preset']:9s} {r['flow']:14s} {r['motion']:11s} {r['epe_obj']:8.3f} "
                     f"{r['motion_frame']:13.3f} {r['motion_chain']:10.3f} {r['object_frames']:10d} "
                     f"{r['seconds_per_clip']:7.3f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=10, help="test clips per preset (seed 0)")
    ap.add_argument("--presets", default=",".join(PRESETS), help="recipes/scenes/NAME.yaml, comma-separated")
    ap.add_argument("--flows", default=",".join(DEFAULT_FLOWS), help=f"of {', '.join(FLOW_SOURCES)}")
    ap.add_argument("--motions", default=",".join(MOTION_SOURCES), help=f"of {', '.join(MOTION_SOURCES)}")
    args = ap.parse_args()
    flows, motions = args.flows.split(","), args.motions.split(",")
    for name, known in ((flows, FLOW_SOURCES), (motions, MOTION_SOURCES)):
        unknown = [n for n in name if n not in known]
        if unknown:
            ap.error(f"unknown {unknown[0]!r}; known: {', '.join(known)}")
    try:
        import torch  # one thread, as the generator's estimators

        torch.set_num_threads(1)
    except ImportError:
        pass
    t0 = time.perf_counter()
    rows = [r for preset in args.presets.split(",") for r in measure(preset, flows, motions, args.clips)]
    print(f"{args.clips} test clips per preset (seed 0); errors in px against the exact truth")
    print(format_table(rows))
    print(f"wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
