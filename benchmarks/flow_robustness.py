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
- s/clip: seconds to make one clip with that flow source (render + codec + estimate), one thread;
- union occ: occluded mIoU (savos protocol) of the union rule (``savos baseline union --motion``) with
  that motion source on those clips, against their exact truth.

    python benchmarks/flow_robustness.py [--clips 5] [--presets gum,camera,textured,nonrigid]
        [--flows exact,dis-fine,dis-fine+h264] [--motions affine-lsq,affine-irls,mask-align,...]
        [--no-union]

Motion sources are savos.motion's estimators (``MOTION_SOURCES``, one per name of savos.motion.MOTIONS):
name -> a function of a clip giving each object's
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
import torch

from generators.scenes.config import load_scene
from generators.scenes.engine import generate_clip
from generators.scenes.realvideo import chain, exact_motions, motion_errors
from savos.data.clip import Clip
from savos.data.codec import decode_clip, encode_clip
from savos.evaluation.baselines import union_baseline
from savos.evaluation.metrics import PairRecords, score_clip, summarize
from savos.motion import MOTIONS, step_motions

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
DEFAULT_FLOWS = ("exact", "dis-fine", "dis-fine+h264")
CHAIN = 8

Motion = Callable[[Clip], tuple[np.ndarray, np.ndarray]]


def _from(name: str) -> Motion:
    """Motion source of savos.motion's estimator ``name``: each object's motion t -> t + 1 is the estimate,
    on the reversed clip, of the motion to its previous frame (as the carry's backward chain reads it),
    from the forward flow, the visible masks and the other objects' visible masks."""

    def source(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
        K = clip.num_objects
        own = clip.visible[None] == np.arange(1, K + 1, dtype=clip.visible.dtype)[:, None, None, None]
        others = (clip.visible[None] != 0) & ~own  # (K, T, H, W)
        flow = np.concatenate([clip.flow_fwd, np.zeros_like(clip.flow_fwd[:1])])  # (T, H, W, 2) t -> t+1

        def reversed_(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x[:, ::-1], np.float32))

        flow_rev = reversed_(flow.transpose(0, 3, 1, 2)[None]).expand(K, -1, -1, -1, -1)  # (K, T, 2, H, W)
        with torch.no_grad():
            maps, fitted = step_motions(name, reversed_(own[:, :, None]), flow_rev,
                                        reversed_(others[:, :, None]))
        # reversed frame u = T - 1 - t maps frame t to frame t + 1
        return (maps[:, 1:].flip(1).transpose(0, 1).double().numpy(),
                fitted[:, 1:].flip(1).transpose(0, 1).numpy())

    return source


MOTION_SOURCES: dict[str, Motion] = {name: _from(name) for name in MOTIONS}


def _stored(clip: Clip) -> Clip:
    return decode_clip(dict(encode_clip(clip)))


def _union_occ(made: list[Clip], exact: list[Clip], motion: str) -> float:
    """Occluded mIoU (savos protocol) of the union rule with ``motion`` on clips ``made``, each scored
    against the truth of its exact clip (the same masks and amodal masks)."""
    recs = [score_clip(e, union_baseline(c, motion=motion)[0].astype(np.float32))
            for c, e in zip(made, exact, strict=True)]
    joined = PairRecords(**{f.name: np.concatenate([getattr(r, f.name) for r in recs])
                            for f in dataclasses.fields(PairRecords)})
    return float(summarize(joined)["miou_occ"])


def measure(preset: str, flows: list[str], motions: list[str], clips: int, seed: int = 0,
            union: bool = True) -> list[dict]:
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
                         "object_frames": int(len(pf)), "seconds_per_clip": seconds,
                         "union_occ": _union_occ(made, exact, motion) if union else float("nan")})
    return rows


def format_table(rows: list[dict]) -> str:
    head = (f"{'preset':9s} {'flow':14s} {'motion':17s} {'EPE obj':>8s} {'motion /frame':>13s} "
            f"{f'motion x{CHAIN}':>10s} {'obj-frames':>10s} {'s/clip':>7s} {'union occ':>9s}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['preset']:9s} {r['flow']:14s} {r['motion']:17s} {r['epe_obj']:8.3f} "
                     f"{r['motion_frame']:13.3f} {r['motion_chain']:10.3f} {r['object_frames']:10d} "
                     f"{r['seconds_per_clip']:7.3f} {r['union_occ']:9.3f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=5, help="test clips per preset (seed 0)")
    ap.add_argument("--presets", default=",".join(PRESETS), help="recipes/scenes/NAME.yaml, comma-separated")
    ap.add_argument("--flows", default=",".join(DEFAULT_FLOWS), help=f"of {', '.join(FLOW_SOURCES)}")
    ap.add_argument("--motions", default=",".join(MOTION_SOURCES), help=f"of {', '.join(MOTION_SOURCES)}")
    ap.add_argument("--no-union", action="store_true", help="motion columns only (no union mIoU)")
    args = ap.parse_args()
    flows, motions = args.flows.split(","), args.motions.split(",")
    for name, known in ((flows, FLOW_SOURCES), (motions, MOTION_SOURCES)):
        unknown = [n for n in name if n not in known]
        if unknown:
            ap.error(f"unknown {unknown[0]!r}; known: {', '.join(known)}")
    torch.set_num_threads(1)  # one thread, as the generator's estimators
    t0 = time.perf_counter()
    rows = [r for preset in args.presets.split(",") for r in measure(preset, flows, motions, args.clips,
                                                                     union=not args.no_union)]
    print(f"{args.clips} test clips per preset (seed 0); errors in px against the exact truth")
    print(format_table(rows))
    print(f"wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
