"""Amodal mIoU under named scoring protocols (pure numpy, one clip at a time).

A protocol turns one clip's prediction into per-pair records, one per (target object, frame) where the
ground-truth amodal mask is known (``clip.amodal_known``: real data is partly annotated) and not
empty: occlusion rate, object type, full and occluded IoU, and whether the pair is selected by the
protocol. Summaries and breakdowns are computed from the records, so they
can be re-aggregated (report, notebooks) without re-scoring. Protocols (docs/metrics.md has the details
and the sources; numbers under different protocols are not comparable):

- ``savos``, the paper's and the original FISHBOWL scorer's. Prediction thresholded at 0.5, then
  post-processed to ``pred * (1 - W) + V_k * W`` with ``W = 1 - sum_{i != k} V_i``: the own visible mask
  is kept and the prediction is used only inside other objects' visible masks (elsewhere it is
  replaced by V_k, so spill onto the background costs nothing). Full IoU of the post-processed mask;
  occluded IoU of both masks restricted to the others' visible region (1 - W). IoU = (I + 1e-6) /
  (U + 1e-6). Pairs kept when 0.1 < occlusion rate < 0.7 (exactly, on pixel counts: 3|A| < 10|V| <
  9|A|) and the frame is neither the first nor the last of the object's track (the span from its
  first to its last visible frame). Headline: "metric1", mean over objects within a (clip, frame),
  then over frames; "metric2" is the mean over all pairs.
- ``eoras``, the EoRaS scorer's (MOVi, KITTI). Full IoU of the thresholded prediction per frame;
  occluded IoU of (pred - V_k) against (A_k - V_k); IoU = I / (U + 1e-6) computed in float32 like the
  reference (torch) scorer, and occluded values exactly equal to 1.0 are dropped. Pairs: every frame
  where the object is at least partly visible; no occlusion-rate filter. Headline: the mean over pairs.
- ``savos-kins``, the savos protocol's KINS variant: tracker objects were matched to KINS instances by
  visible IoU >= 0.5 when the data was imported (unmatched pairs are not known), the occluded region is
  the other objects' predicted (tracker) visible masks, which is what ``visible`` holds, and occluded
  IoU values exactly 1 (nothing hidden, nothing predicted there) are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from savos.data.guessability import never_seen_regions

SAVOS_SMOOTH = 1e-6
EORAS_EPS = np.float32(1e-6)
BUCKET_NAMES = [f"[{b / 10:.1f},{(b + 1) / 10:.1f}{']' if b == 9 else ')'}" for b in range(10)]


@dataclass
class PairRecords:
    """Columns of N per-pair records (one per target object and frame with a non-empty amodal mask)."""

    clip: np.ndarray  # str (N,) clip key
    object: np.ndarray  # int64 (N,) 0-based object index k (object k + 1 in `visible`)
    frame: np.ndarray  # int64 (N,)
    occlusion: np.ndarray  # float64 (N,) 1 - |V_k| / |A_k|
    bucket: np.ndarray  # int64 (N,) occlusion-rate bucket b: [b/10, (b+1)/10), the last one closed
    type: np.ndarray  # str (N,) object type (meta "type", else "shape", else "unknown")
    iou_full: np.ndarray  # float64 (N,)
    iou_occ: np.ndarray  # float64 (N,)
    selected: np.ndarray  # bool (N,) the protocol's pair selection (occlusion filter, track ends, ...)
    occ_valid: np.ndarray  # bool (N,) iou_occ counts (eoras drops values exactly 1)
    iou_never: np.ndarray | None = None  # float64 (N,) IoU on the never-seen region (NaN: none)
    never_valid: np.ndarray | None = None  # bool (N,) the pair has a never-seen part (None: all False)

    def __post_init__(self) -> None:
        n = len(self.clip)
        if self.iou_never is None:
            self.iou_never = np.full(n, np.nan)
        if self.never_valid is None:
            self.never_valid = np.zeros(n, bool)

    def __len__(self) -> int:
        return len(self.clip)

    def subset(self, mask: np.ndarray) -> PairRecords:
        return PairRecords(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    @staticmethod
    def concat(parts: list[PairRecords]) -> PairRecords:
        if not parts:
            return empty_records()
        cols = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(PairRecords)}
        return PairRecords(**cols)

    def rows(self) -> list[dict[str, Any]]:
        names = [f.name for f in fields(self)]
        cols = [getattr(self, n).tolist() for n in names]
        return [dict(zip(names, r, strict=True)) for r in zip(*cols, strict=True)]


def empty_records() -> PairRecords:
    i, f, b = np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, bool)
    return PairRecords(np.zeros(0, str), i, i, f, i, np.zeros(0, str), f, f, b, b, f, b)


def object_types(meta: dict[str, Any], num_objects: int) -> list[str]:
    objs = meta.get("objects") or [{}] * num_objects
    return [str(o.get("type") or o.get("category") or o.get("shape") or "unknown") for o in objs]


def _binarize(pred: np.ndarray) -> np.ndarray:
    return pred if pred.dtype == np.bool_ else pred > 0.5  # threshold 0.5 on probabilities


def _counts(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=(1, 2), dtype=np.int64)  # (T, H, W) -> (T,)


def _track_ends(vis_area: np.ndarray) -> np.ndarray:
    """bool (T,): first and last frame where the object is visible (its track's ends)."""
    ends = np.zeros(len(vis_area), bool)
    on = np.flatnonzero(vis_area > 0)
    if len(on):
        ends[on[0]] = ends[on[-1]] = True
    return ends


def _savos_iou(i: np.ndarray, u: np.ndarray) -> np.ndarray:
    return (i + SAVOS_SMOOTH) / (u + SAVOS_SMOOTH)


def _savos_object(p, v, o, a):
    """p, v, o, a bool (T, H, W): prediction, own visible, others' visible, ground-truth amodal."""
    s = SAVOS_SMOOTH
    p_o = p & o  # the prediction where the post-processing keeps it
    post = p_o | v  # pred * (1 - W) + V * W; V and O are disjoint
    iou_full = (_counts(post & a) + s) / (_counts(post | a) + s)
    a_o = a & o
    iou_occ = (_counts(p_o & a_o) + s) / (_counts(p_o | a_o) + s)
    vis, amo = _counts(v), _counts(a)
    selected = (3 * amo < 10 * vis) & (10 * vis < 9 * amo) & ~_track_ends(vis)
    return iou_full, iou_occ, selected, np.ones(len(p), bool)


def _savos_kins_object(p, v, o, a):
    iou_full, iou_occ, selected, _ = _savos_object(p, v, o, a)
    return iou_full, iou_occ, selected, iou_occ != 1.0


def _eoras_iou(i: np.ndarray, u: np.ndarray) -> np.ndarray:
    # float32 like the reference; in float64 an IoU would never be exactly 1 and nothing would drop.
    return (i.astype(np.float32) / (u.astype(np.float32) + EORAS_EPS)).astype(np.float64)


def _eoras_object(p, v, o, a):
    iou_full = _eoras_iou(_counts(p & a), _counts(p | a))
    p_occ, a_occ = p & ~v, a & ~v
    iou_occ = _eoras_iou(_counts(p_occ & a_occ), _counts(p_occ | a_occ))
    return iou_full, iou_occ, _counts(v) > 0, iou_occ != 1.0


@dataclass(frozen=True)
class Protocol:
    """score_object(p, v, o, a) -> (iou_full, iou_occ, selected, occ_valid), each (T,); iou(I, U): the
    protocol's IoU of pixel counts (the never-seen score uses it)."""

    score_object: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    headline: str  # "metric1" or "metric2": which aggregation is the protocol's mIoU
    iou: Callable[[np.ndarray, np.ndarray], np.ndarray] = _savos_iou


PROTOCOLS: dict[str, Protocol] = {
    "savos": Protocol(_savos_object, headline="metric1"),
    "eoras": Protocol(_eoras_object, headline="metric2", iou=_eoras_iou),
    "savos-kins": Protocol(_savos_kins_object, headline="metric1"),
}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise KeyError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def score_arrays(pred: np.ndarray, visible: np.ndarray, amodal: np.ndarray, targets: list[int],
                 protocol: str = "savos", types: list[str] | None = None, key: str = "",
                 known: np.ndarray | None = None, never: np.ndarray | None = None) -> PairRecords:
    """Per-pair records of one clip.

    Args:
        pred: bool or float probabilities (T, K, H, W), predicted amodal masks (thresholded at 0.5).
        visible: integer (T, H, W), 0 background, k + 1 = object k.
        amodal: bool (T, K, H, W), ground truth.
        targets: 0-based indices of the objects to score.
        types: K type names (default "unknown"); key: the clip key stored in the records.
        known: bool (T, K), pairs whose amodal truth exists (default all); only those are scored.
        never: bool (T, K, H, W), the never-seen regions (``savos.data.guessability.never_seen_regions``)
            or None: no never-seen score. Never-seen IoU = the protocol's IoU of (pred & R) against
            (amodal & R) for the region R, defined where amodal & R is not empty.
    """
    assert pred.ndim == 4 and pred.shape == amodal.shape, (pred.shape, amodal.shape)
    assert visible.shape == amodal.shape[:1] + amodal.shape[2:], (visible.shape, amodal.shape)
    proto = get_protocol(protocol)
    score_object = proto.score_object
    T, K = amodal.shape[:2]
    types = types or ["unknown"] * K
    pred = _binarize(pred)
    fg = visible > 0
    parts = []
    for k in targets:
        v = visible == k + 1
        o = fg & ~v
        a = amodal[:, k]
        iou_full, iou_occ, selected, occ_valid = score_object(pred[:, k], v, o, a)
        vis, amo = _counts(v), _counts(a)
        has = amo > 0  # occlusion rate (and the pair) only defined where the amodal mask is set
        if known is not None:
            has &= known[:, k]
        amo1 = np.maximum(amo, 1)
        frames = np.flatnonzero(has)
        n = len(frames)
        iou_never, never_valid = np.full(T, np.nan), np.zeros(T, bool)
        if never is not None:
            r = never[:, k]
            pn, an = pred[:, k] & r, a & r
            never_valid = _counts(an) > 0
            iou_never = np.where(never_valid, proto.iou(_counts(pn & an), _counts(pn | an)), np.nan)
        parts.append(PairRecords(
            clip=np.full(n, key), object=np.full(n, k, np.int64),
            frame=frames.astype(np.int64), occlusion=(1.0 - vis / amo1)[has],
            bucket=np.minimum(10 * (amo - vis) // amo1, 9)[has].astype(np.int64),
            type=np.full(n, types[k]),
            iou_full=iou_full[has], iou_occ=iou_occ[has], selected=selected[has], occ_valid=occ_valid[has],
            iou_never=iou_never[has], never_valid=never_valid[has]))
    return PairRecords.concat(parts)


def score_clip(clip, pred: np.ndarray, protocol: str = "savos", never: np.ndarray | None = None
               ) -> PairRecords:
    """Per-pair records of a Clip's target objects; pred (T, K, H, W) as in score_arrays. ``never``: the
    clip's never-seen regions, default computed from its exact truth (``never_seen_regions``; None, so
    no never-seen score, for a clip without motion information)."""
    never = never_seen_regions(clip) if never is None else never
    return score_arrays(pred, clip.visible, clip.amodal, clip.target_ids(), protocol,
                        object_types(clip.meta, clip.num_objects), clip.key, clip.amodal_known, never)


def aggregate(values: np.ndarray, clip: np.ndarray, frame: np.ndarray) -> dict[str, float]:
    """metric1 (mean over objects within a (clip, frame), then over frames) and metric2 (mean over
    pairs) of per-pair values; NaN when there are none."""
    if len(values) == 0:
        return {"metric1": float("nan"), "metric2": float("nan"), "pairs": 0, "frames": 0}
    _, clip_id = np.unique(clip, return_inverse=True)
    _, group = np.unique(clip_id.astype(np.int64) * (int(frame.max()) + 1) + frame, return_inverse=True)
    per_frame = np.bincount(group, weights=values) / np.bincount(group)
    return {"metric1": float(per_frame.mean()), "metric2": float(values.mean()),
            "pairs": int(len(values)), "frames": int(len(per_frame))}


def summarize(rec: PairRecords, protocol: str = "savos",
              selected: np.ndarray | None = None) -> dict[str, Any]:
    """mIoU (the protocol's headline aggregation), metric1 and metric2, for full, occluded and
    never-seen IoU (``miou_never``: NaN where no selected pair has a never-seen part).

    ``selected`` overrides the protocol's pair selection (breakdowns use it for unfiltered buckets)."""
    head = get_protocol(protocol).headline
    sel = rec.selected if selected is None else selected
    out: dict[str, Any] = {}
    for name, vals, keep in (("full", rec.iou_full, sel), ("occ", rec.iou_occ, sel & rec.occ_valid),
                             ("never", rec.iou_never, sel & rec.never_valid)):
        agg = aggregate(vals[keep], rec.clip[keep], rec.frame[keep])
        out[f"miou_{name}"] = agg[head]
        out[f"metric1_{name}"] = agg["metric1"]
        out[f"metric2_{name}"] = agg["metric2"]
        out[f"pairs_{name}"] = agg["pairs"]
    return out


def breakdowns(rec: PairRecords, protocol: str = "savos") -> tuple[list[dict], list[dict]]:
    """(by occlusion-rate bucket, by object type) rows of ``summarize`` numbers.

    Bucket rows come twice: subset "protocol" (the protocol's pairs) and "all" (every pair, no pair
    selection; eoras still drops occluded IoU == 1). Type rows use the protocol's pairs."""
    by_bucket = []
    everything = np.ones(len(rec), bool)
    for subset, sel in (("protocol", rec.selected), ("all", everything)):
        for b, name in enumerate(BUCKET_NAMES):
            row = summarize(rec, protocol, sel & (rec.bucket == b))
            by_bucket.append({"subset": subset, "bucket": name, **row})
    by_type = [{"type": t, **summarize(rec, protocol, rec.selected & (rec.type == t))}
               for t in sorted(set(rec.type.tolist()))]
    return by_bucket, by_type
