"""Real-video conditions with exact truth: the scene keys ``flow`` and ``video_codec``.

A real video has no exact flow, and its frames went through a lossy codec. ``flow: dis-fine`` (or
``dis-medium``, ``dis-fast``, ``farneback``) stores as the visible flow (``flow_fwd``, ``flow_bwd``) the
estimate ``savos-gen import`` makes of a real video: ``savos.data.importers.flow.stored_estimate``,
OpenCV on one thread, rounded to 1/8 px. ``video_codec: h264`` stores the frames an H.264 round trip
returns (``savos.data.importers.media.h264_round_trip``: libx264, CRF 25, yuv420p, one thread); the
flow, if estimated, is then estimated from the decoded frames, as a real video would give it.

Everything else stays exact: the visible label maps, the amodal masks, the amodal flow and meta's vector
truth. So ``savos-gen verify`` recomputes the exact flow from meta and reports how far the stored
estimate is from it (``findings``).

``meta`` says what is estimated (JSON-exact):
    flow          (estimated flow only) ``stored_estimate``'s record: method ``opencv-<name>``, exact
                  false, the OpenCV version, rounded_to_px 0.125; plus ``from`` ("rendered frames" or
                  "h264-decoded frames") and ``error`` (where the error is measured)
    video_codec   (h264 only) codec "h264", encoder "libx264", crf, pix_fmt, the ffmpeg version, exact
                  false
A clip with exact flow and no codec has neither key: its bytes are those of a scene without these keys.

Same seed, same bytes: the estimators and the encoder run on one thread, so the arrays depend only on
the clip and on the OpenCV and ffmpeg builds, which meta records.
"""

from __future__ import annotations

import math

import numpy as np

from generators.geometry import pixel_centres
from savos.data.clip import Clip
from savos.data.importers.flow import stored_estimate
from savos.data.importers.media import H264, ffmpeg_version, h264_round_trip

MIN_PSNR = 20.0  # dB: H.264 frames this far from the rendered ones are not the clip's frames
MIN_PIXELS = 10  # an object's motion is fitted only where it shows at least this many pixels
MIN_SPREAD = 0.5  # px^2: ... and its pixels' smaller positional variance is at least this (not a sliver)


def exact(flow: str, video_codec: str) -> bool:
    """True when nothing of the clip is estimated (the engine's default path, untouched)."""
    return flow == "exact" and video_codec == "none"


def codec_meta() -> dict:
    """``meta["video_codec"]`` of an H.264 clip."""
    return {"codec": "h264", "encoder": H264["encoder"], "crf": H264["crf"], "pix_fmt": H264["pix_fmt"],
            "ffmpeg": ffmpeg_version(), "exact": False}


def capture(flow: str, video_codec: str, rgb: np.ndarray, flow_fwd: np.ndarray, flow_bwd: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The rendered frames and exact flows as a real video gives them: (rgb, flow_fwd, flow_bwd, meta),
    ``meta`` holding the module docstring's keys."""
    meta: dict = {}
    if video_codec == "h264":
        rgb = h264_round_trip(rgb)
    if flow != "exact":
        flow_fwd, flow_bwd, record = stored_estimate(rgb, flow)
        source = "h264-decoded frames" if video_codec == "h264" else "rendered frames"
        meta["flow"] = {**record, "from": source,
                        "error": "savos-gen verify measures it against the exact flow"}
    if video_codec == "h264":
        meta["video_codec"] = codec_meta()
    return rgb, flow_fwd, flow_bwd, meta


# ---- measuring estimated motion against the exact one (savos-gen verify, benchmarks/flow_robustness.py)


def fit_motions(flow: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine motion of each object: the map p -> A p + b closest to p -> p + flow(p) over
    the object's mask. Pixel (r, c) is at x = c, y = r.

    flow float (N, H, W, 2) (one field for all objects) or (N, K, H, W, 2) (one per object, e.g. amodal
    flow); masks bool (N, K, H, W). Returns maps float64 (N, K, 2, 3) and ok bool (N, K): False where the
    mask has fewer than MIN_PIXELS pixels or is a sliver (MIN_SPREAD); those maps are the mean
    translation (identity if empty)."""
    N, K, H, W = masks.shape
    xs, ys = pixel_centres(H, W)
    p = np.stack([xs, ys], axis=-1)  # (HW, 2)
    w = masks.reshape(N, K, H * W).astype(np.float64)
    f = flow.reshape(N, -1, H * W, 2).astype(np.float64)  # (N, K or 1, HW, 2)
    mass = w.sum(-1)  # (N, K)
    safe = np.maximum(mass, 1.0)[..., None]
    pc = (w @ p) / safe  # (N, K, 2) centroid
    fm = np.einsum("nkx,nkxc->nkc", w, np.broadcast_to(f, (N, K, H * W, 2))) / safe  # mean flow
    dp = p[None, None] - pc[:, :, None]  # (N, K, HW, 2)
    df = f - fm[:, :, None]
    cov_pp = np.einsum("nkx,nkxi,nkxj->nkij", w, dp, dp) / safe[..., None]
    cov_fp = np.einsum("nkx,nkxi,nkxj->nkij", w, df, dp) / safe[..., None]
    tr, det = cov_pp[..., 0, 0] + cov_pp[..., 1, 1], np.linalg.det(cov_pp)
    spread = (tr - np.sqrt(np.maximum(tr * tr - 4 * det, 0.0))) / 2  # the smaller eigenvalue
    ok = (mass >= MIN_PIXELS) & (spread >= MIN_SPREAD)
    jac = np.zeros((N, K, 2, 2))
    jac[ok] = cov_fp[ok] @ np.linalg.inv(cov_pp[ok])
    lin = np.eye(2) + jac
    shift = fm + pc - (lin @ pc[..., None])[..., 0]  # p -> pc + fm + lin (p - pc)
    return np.concatenate([lin, shift[..., None]], axis=-1), ok


def chain(maps: np.ndarray, ok: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Compose ``steps`` consecutive motions: maps (N, K, 2, 3), ok (N, K) -> the motions from frame t to
    t + steps (N - steps + 1, K, 2, 3) and where every step was fitted."""
    N = maps.shape[0]
    out, good = maps[:N - steps + 1].copy(), ok[:N - steps + 1].copy()
    for s in range(1, steps):
        nxt = maps[s:N - steps + 1 + s]
        lin = nxt[..., :2] @ out[..., :2]
        out = np.concatenate([lin, nxt[..., :2] @ out[..., 2:] + nxt[..., 2:]], axis=-1)
        good &= ok[s:N - steps + 1 + s]
    return out, good


def motion_errors(est: np.ndarray, ref: np.ndarray, where: np.ndarray, amodal: np.ndarray) -> np.ndarray:
    """Per object-frame: the mean distance (px) between where ``est`` and ``ref`` (N, K, 2, 3) take the
    object's amodal pixels ``amodal`` (N, K, H, W) bool, for the object-frames in ``where`` (N, K) ->
    float64 (where.sum(),)."""
    H, W = amodal.shape[2:]
    xs, ys = pixel_centres(H, W)
    errors = []
    for n, k in zip(*np.nonzero(where), strict=True):
        pix = np.flatnonzero(amodal[n, k])
        d = est[n, k] - ref[n, k]  # (2, 3): the difference map is affine too
        dx = d[0, 0] * xs[pix] + d[0, 1] * ys[pix] + d[0, 2]
        dy = d[1, 0] * xs[pix] + d[1, 1] * ys[pix] + d[1, 2]
        errors.append(np.hypot(dx, dy).mean() if len(pix) else 0.0)
    return np.asarray(errors, np.float64)


def exact_motions(amodal_flow: np.ndarray, amodal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference motion of each object, t -> t + 1: the affine fit of the exact amodal flow
    (T-1, K, H, W, 2) over the whole amodal mask (T, K, H, W) (exact for affine motion, the closest affine
    map for non-rigid motion)."""
    return fit_motions(amodal_flow, amodal[:-1])


def object_motions(flow_fwd: np.ndarray, visible: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """The motion of each object as ``model.carry`` and the union rule read it: the affine fit of the
    visible flow (T-1, H, W, 2) over each object's visible mask (labels (T, H, W))."""
    masks = visible[:-1, None] == np.arange(1, K + 1, dtype=visible.dtype)[None, :, None, None]
    return fit_motions(flow_fwd, masks)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) of uint8 frames a against b (inf if equal)."""
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


Measures = dict[str, tuple[float, float]]  # label -> (sum, weight): averaged over a dataset by verify


def findings(clip: Clip, flow: str, video_codec: str, rendered: np.ndarray, exact_fwd: np.ndarray,
             exact_bwd: np.ndarray, reference: tuple[np.ndarray, np.ndarray]) -> tuple[list[str], Measures]:
    """What ``savos-gen verify`` checks and measures of a clip made with ``flow`` / ``video_codec`` (at
    least one of them not exact), given the truth it recomputed from meta: the rendered frames, the exact
    visible flows and each object's exact motion t -> t + 1 (maps (T-1, K, 2, 3), ok (T-1, K):
    ``exact_motions``, or the rigid motions themselves). Returns (problems, measures), measures label ->
    (sum, weight) for averaging over a dataset.

    Checks: meta records what is estimated (and nothing else); the H.264 frames are within MIN_PSNR of
    the rendered ones; the stored flow is the recorded estimator's estimate of the stored frames (when
    the installed OpenCV is the recorded one). Measures: EPE of the stored flow on object pixels and on
    all pixels, both directions; the per-object affine motion error (px per frame) against the exact
    motion; the frames' PSNR."""
    import cv2  # lazy: OpenCV is slow to import; only estimated flow needs it

    meta, problems, measures = clip.meta, [], {}
    rec = meta.get("video_codec")
    if video_codec == "h264":
        if not isinstance(rec, dict) or rec.get("codec") != "h264" or rec.get("exact") is not False:
            problems.append("meta.video_codec must say codec: h264, exact: false")
        value = psnr(clip.rgb, rendered)
        if not value >= MIN_PSNR:
            problems.append(f"rgb is {value:.1f} dB from the rendered frames (an H.264 round trip stays "
                            f"above {MIN_PSNR:.0f} dB)")
        measures["rgb PSNR against the rendered frames (dB)"] = (min(value, 99.0), 1.0)
    elif rec is not None:
        problems.append("meta.video_codec is recorded, but the config's video_codec is none")
    rec = meta.get("flow")
    if flow == "exact":
        if rec is not None:
            problems.append("meta.flow is recorded, but the config's flow is exact")
        return problems, measures
    if not isinstance(rec, dict) or rec.get("method") != f"opencv-{flow}" or rec.get("exact") is not False:
        problems.append(f"meta.flow must say method: opencv-{flow}, exact: false")
    elif rec.get("opencv") == cv2.__version__:
        fwd, bwd, _ = stored_estimate(clip.rgb, flow)
        worst = max(float(np.abs(fwd - clip.flow_fwd).max()), float(np.abs(bwd - clip.flow_bwd).max()))
        if worst > 0:
            problems.append(f"flow_fwd / flow_bwd are not the opencv-{flow} estimate of the stored frames "
                            f"(off by up to {worst:.3f} px)")
    epe_obj = epe_all = 0.0
    obj = 0
    for got, want, labels in ((clip.flow_fwd, exact_fwd, clip.visible[:-1]),
                              (clip.flow_bwd, exact_bwd, clip.visible[1:])):
        err = np.linalg.norm(got.astype(np.float64) - want, axis=-1)
        epe_all += float(err.sum())
        epe_obj += float(err[labels > 0].sum())
        obj += int((labels > 0).sum())
    measures["flow EPE on object pixels (px per frame)"] = (epe_obj, float(obj))
    measures["flow EPE on all pixels (px per frame)"] = (epe_all, float(2 * exact_fwd[..., 0].size))
    K = clip.num_objects
    est, ok = object_motions(clip.flow_fwd, clip.visible, K)
    ref, ref_ok = reference
    errors = motion_errors(est, ref, ok & ref_ok, clip.amodal[:-1])
    measures["per-object affine motion error (px per frame)"] = (float(errors.sum()), float(len(errors)))
    return problems, measures
