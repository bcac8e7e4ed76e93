"""Object tracks: per-object Ph x Pw crops that follow the visible mask, and their exact inverse.

Patch size: ``patch`` is an int P (square P x P) or a pair (Ph, Pw): height, width
(the paper's 64 x 128 for FISHBOWL and KINS-Video-Car). ``patch_hw`` normalises it.

Geometry (frame and patch share the pixel-centre convention: pixel (r, c) has its centre at x=c, y=r):

- A Track has ONE scale ``s`` (patch pixels per frame pixel, the same along x and y) for all its frames,
  and per frame t a box ``boxes[t] = (x0, y0, x1, y1)``: the region of the frame the patch covers, in
  continuous frame coordinates (pixel c spans [c - 0.5, c + 0.5]); ``x1 - x0 = Pw / s``,
  ``y1 - y0 = Ph / s``.
- A frame point x maps to the patch coordinate ``u = s * (x - x0_t) - 0.5`` (same for y), i.e.
  ``u = s * (x - c_t) + (Pw - 1) / 2`` with ``c_t`` the box centre. Crop and paste-back both use this
  map, so they are exact inverses up to bilinear interpolation (exact for s = 1 and integer offsets).
- The box is the smallest of aspect Ph : Pw that holds ``enlarge`` × the largest height and
  ``enlarge`` × the largest width of the visible mask's bounding box over the track's visible frames
  (one scale per track; square patches: side ``enlarge`` × the largest extent). The centre follows the
  visible bounding box per frame and is linearly interpolated (held at the ends) over frames where the
  object is not visible; those frames have ``valid = False``.
- Flow in patch units, exact under the crop change: a point x of frame t moves to x + f; its patch
  coordinates are ``s (x - c_t) + k`` in crop t and ``s (x + f - c_{t+1}) + k`` in crop t+1, so
  ``patch_flow_fwd = s f - s (c_{t+1} - c_t)`` and ``patch_flow_bwd = s b - s (c_{t-1} - c_t)``.
  Within a cropped window, ``flow_fwd`` is 0 at its last frame and ``flow_bwd`` 0 at its first, as for a
  whole clip, so windows look like short clips.
- Resampling is bilinear with zeros outside the frame, for rgb, flow and masks alike; masks stay float
  in [0, 1].
- ``known`` carries ``clip.amodal_known``: ``amodal`` is ground truth only where it is True (real data
  is partly annotated). Only metrics and the supervised oracles read ``amodal``, and only there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch

from savos.data.clip import Clip
from savos.errors import SavosError
from savos.warp import exact_size, sample


def patch_hw(patch: int | Sequence[int]) -> tuple[int, int]:
    """``data.patch`` -> (Ph, Pw): an int P is the square (P, P); a pair is (height, width)."""
    if isinstance(patch, int | np.integer):
        return int(patch), int(patch)
    ph, pw = patch
    return int(ph), int(pw)


@dataclass
class Track:
    """Crop geometry of one object over a whole clip (numpy)."""

    object_id: int  # 0-based k: the object is amodal[:, k], visible == k + 1
    boxes: np.ndarray  # float64 (T, 4): (x0, y0, x1, y1) frame region covered by the patch
    valid: np.ndarray  # bool (T,): the object is visible at t
    scale: float  # patch pixels per frame pixel, one for the whole track and both axes
    patch: tuple[int, int]  # (Ph, Pw); an int P is stored as (P, P)
    size: tuple[int, int]  # (H, W) of the frames

    def __post_init__(self):
        self.patch = patch_hw(self.patch)

    @property
    def centres(self) -> np.ndarray:
        """float64 (T, 2): box centre (cx, cy) in frame pixels."""
        return 0.5 * (self.boxes[:, :2] + self.boxes[:, 2:])

    def patch_to_frame(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame coordinates of the patch pixel centres: x (L, Pw) and y (L, Ph) for frames ts (L,)."""
        ph, pw = self.patch
        u = (np.arange(pw) + 0.5) / self.scale  # (Pw,)
        v = u if ph == pw else (np.arange(ph) + 0.5) / self.scale  # (Ph,)
        return self.boxes[ts, 0:1] + u, self.boxes[ts, 1:2] + v


def _box_size(ph: int, pw: int, height: float, width: float) -> tuple[float, float]:
    """The smallest (box height, box width) of aspect ph : pw holding height x width frame pixels."""
    if height * pw >= width * ph:  # the height fills the patch
        return height, height * (pw / ph)
    return width * (ph / pw), width


def make_tracks(clip: Clip, patch: int | Sequence[int], enlarge: float) -> list[Track]:
    """One Track per target object (``clip.target_ids()``), in that order. patch: P or (Ph, Pw).
    See the module docstring."""
    ph, pw = patch_hw(patch)
    if min(ph, pw) < 2 or enlarge <= 0:
        raise SavosError(f"tracks need patch sides >= 2 and enlarge > 0, got patch={patch}, "
                         f"enlarge={enlarge}")
    T, H, W = clip.visible.shape
    t_all = np.arange(T)
    tracks = []
    for k in clip.target_ids():
        own = clip.visible == k + 1  # (T, H, W)
        rows, cols = own.any(axis=2), own.any(axis=1)  # (T, H), (T, W)
        valid = rows.any(axis=1)  # (T,)
        if valid.any():
            r0, r1 = rows.argmax(1), H - 1 - rows[:, ::-1].argmax(1)  # (T,) first/last row (valid t only)
            c0, c1 = cols.argmax(1), W - 1 - cols[:, ::-1].argmax(1)
            ext_h = (r1 - r0)[valid].max() + 1.0  # pixel edges: last - first + 1
            ext_w = (c1 - c0)[valid].max() + 1.0
            box_h, box_w = _box_size(ph, pw, max(enlarge * float(ext_h), 1.0),
                                     max(enlarge * float(ext_w), 1.0))
            tv = t_all[valid]
            cx = np.interp(t_all, tv, (0.5 * (c0 + c1))[valid])  # holds the end values
            cy = np.interp(t_all, tv, (0.5 * (r0 + r1))[valid])
        else:  # never visible: a fixed box over the whole frame; every frame invalid
            box_h, box_w = _box_size(ph, pw, float(H), float(W))
            cx, cy = np.full(T, (W - 1) / 2), np.full(T, (H - 1) / 2)
        boxes = np.stack([cx - box_w / 2, cy - box_h / 2, cx + box_w / 2, cy + box_h / 2], axis=1)
        tracks.append(Track(int(k), boxes.astype(np.float64), valid, pw / box_w, (ph, pw), (H, W)))
    return tracks


@dataclass
class TrackItem:
    """One object over a temporal window, in patch units (numpy). L frames, Ph x Pw patches."""

    rgb: np.ndarray  # float32 (L, 3, Ph, Pw) in [0, 1]
    visible: np.ndarray  # float32 (L, 1, Ph, Pw) own visible mask V^k
    others: np.ndarray  # float32 (L, 1, Ph, Pw) other objects' visible masks
    flow_fwd: np.ndarray  # float32 (L, 2, Ph, Pw) t -> t+1, patch pixels, 0 at the last frame
    flow_bwd: np.ndarray  # float32 (L, 2, Ph, Pw) t -> t-1, lives on t, patch pixels, 0 at the first frame
    valid: np.ndarray  # bool (L,) object visible at t
    amodal: np.ndarray  # float32 (L, 1, Ph, Pw) ground truth where known; never used by the SaVos loss
    known: np.ndarray | None = None  # bool (L,) amodal is ground truth at t (clip.amodal_known); None: all
    key: str = ""  # clip key
    object_id: int = 0  # 0-based k
    t0: int = 0  # first frame of the window in the clip


@dataclass
class TrackBatch:
    """A batch of TrackItems (torch). Padded frames (clips shorter than the batch) have valid=False and
    known=False."""

    rgb: torch.Tensor  # float32 (B, T, 3, Ph, Pw) in [0, 1]
    visible: torch.Tensor  # float32 (B, T, 1, Ph, Pw)
    others: torch.Tensor  # float32 (B, T, 1, Ph, Pw)
    flow_fwd: torch.Tensor  # float32 (B, T, 2, Ph, Pw) t -> t+1, 0 at the last frame
    flow_bwd: torch.Tensor  # float32 (B, T, 2, Ph, Pw) t -> t-1 living on t, 0 at the first frame
    valid: torch.Tensor  # bool (B, T)
    amodal: torch.Tensor  # float32 (B, T, 1, Ph, Pw) ground truth where known: metrics, oracles, logging
    # bool (B, T): amodal[b, t] is ground truth. None (batches built by hand): all known; ``known_pairs``
    known: torch.Tensor | None = None
    length: torch.Tensor | None = None  # long (B,) real frames before padding
    object_id: torch.Tensor | None = None  # long (B,)
    t0: torch.Tensor | None = None  # long (B,)
    keys: list[str] = field(default_factory=list)  # (B,) clip keys

    def known_pairs(self) -> torch.Tensor:
        """bool (B, T): where ``amodal`` may be read as ground truth (``known``, all True if None)."""
        if self.known is None:
            return torch.ones(self.valid.shape, dtype=torch.bool, device=self.valid.device)
        return self.known

    def to(self, device, non_blocking: bool = False) -> TrackBatch:
        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=non_blocking)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return replace(self, **moved)


_CHANNELS = 10  # rgb 3, own 1, others 1, amodal 1, flow_fwd 2, flow_bwd 2


def crop_track(clip: Clip, track: Track, t0: int = 0, length: int | None = None) -> TrackItem:
    """Crop frames [t0, t0 + length) of one track (length None: to the end) into a TrackItem.

    All channels are resampled by one bilinear ``grid_sample`` over the window's frames, of the part of
    each frame the patch reads.
    """
    T, H, W = clip.visible.shape
    length = T - t0 if length is None else length
    if not (0 <= t0 and length >= 1 and t0 + length <= T):
        raise SavosError(f"window t0={t0}, length={length} does not fit clip {clip.key} of {T} frames")
    L, k, s = length, track.object_id, track.scale
    ts = np.arange(t0, t0 + L)
    gx, gy = track.patch_to_frame(ts)  # (L, Pw), (L, Ph)
    gx, gy = gx.astype(np.float32), gy.astype(np.float32)
    x, gx, gy = _window_input(clip, k, t0, L, gx, gy)
    coords = np.stack(np.broadcast_arrays(gx[:, None, :], gy[:, :, None]), axis=1)  # (L, 2, Ph, Pw)
    with torch.no_grad():
        out = sample(torch.from_numpy(x), torch.from_numpy(coords)).numpy()  # (L, 10, Ph, Pw)

    shift = (s * np.diff(track.centres[ts], axis=0)).astype(np.float32)  # (L-1, 2) s (c_{t+1} - c_t)
    fwd, bwd = s * out[:, 6:8], s * out[:, 8:10]  # frame pixels -> patch pixels
    fwd[: L - 1] -= shift[:, :, None, None]  # the crop moved by c_{t+1} - c_t
    fwd[L - 1] = 0.0
    bwd[1:] += shift[:, :, None, None]  # - s (c_{t-1} - c_t)
    bwd[0] = 0.0
    return TrackItem(
        rgb=np.ascontiguousarray(out[:, 0:3]),
        visible=np.ascontiguousarray(out[:, 3:4]),
        others=np.ascontiguousarray(out[:, 4:5]),
        flow_fwd=np.ascontiguousarray(fwd),
        flow_bwd=np.ascontiguousarray(bwd),
        valid=track.valid[ts].copy(),
        amodal=np.ascontiguousarray(out[:, 5:6]),
        known=clip.amodal_known[t0 : t0 + L, k].copy(),
        key=clip.key,
        object_id=k,
        t0=int(t0),
    )


def _sampled_at(c: np.ndarray, size: int) -> np.ndarray:
    """float32 positions where ``warp.sample`` reads float32 coordinates ``c`` of an input ``size`` pixels
    long (``exact_size``): its normalisation and grid_sample's unnormalisation, in float32 as they do."""
    g = c * np.float32(2.0 / (size - 1)) - np.float32(1.0)
    return (g + np.float32(1.0)) * np.float32((size - 1) / 2)


def _window_crop(c: np.ndarray, n: int) -> tuple[np.ndarray, int, np.ndarray] | None:
    """Per frame, the first of the pixels (of n) that bilinear sampling at ``c`` (L, P) reads in a frame
    padded to ``exact_size(n)``, how many (the most of any frame), and the coordinates in that crop, for
    which ``sample`` reads at exactly the same places (None if one position would not be the same)."""
    at = _sampled_at(c, exact_size(n))  # (L, P)
    lo = np.clip(np.floor(at.min(axis=1)), 0, n - 1).astype(np.int64)  # (L,)
    hi = np.clip(np.floor(at.max(axis=1)) + 1, 0, n - 1).astype(np.int64)
    width = int(max((hi - lo).max() + 1, 1))
    local = at - lo[:, None].astype(np.float32)
    if not (np.array_equal(local.astype(np.float64) + lo[:, None], at)
            and np.array_equal(_sampled_at(local, exact_size(width)), local)):
        return None
    return lo, width, local


def _window_input(clip: Clip, k: int, t0: int, L: int, gx: np.ndarray, gy: np.ndarray):
    """The 10 channels ``crop_track`` samples, (L, 10, H', W') zero-padded to ``exact_size``, and the
    coordinates to sample them at: only the part of each frame that the patch reads when that gives
    bit for bit the values of sampling the whole frames (it does but for rounding corner cases), else
    the whole frames."""
    T, H, W = clip.visible.shape
    cols, rows = _window_crop(gx, W), _window_crop(gy, H)
    if cols is None or rows is None:
        c0, r0 = np.zeros(L, np.int64), np.zeros(L, np.int64)
        w, h = W, H
    else:
        (c0, w, gx), (r0, h, gy) = cols, rows
    r = r0[:, None] + np.arange(h)  # (L, h) frame rows
    c = c0[:, None] + np.arange(w)  # (L, w)
    inside = (r < H)[:, :, None] & (c < W)[:, None, :]  # (L, h, w)
    t = np.arange(t0, t0 + L)[:, None, None]
    r, c = np.minimum(r, H - 1)[:, :, None], np.minimum(c, W - 1)[:, None, :]
    x = np.zeros((L, _CHANNELS, exact_size(h), exact_size(w)), np.float32)
    x[:, 0:3, :h, :w] = np.where(inside[..., None], clip.rgb[t, r, c], 0).transpose(0, 3, 1, 2)
    x[:, 0:3, :h, :w] *= 1.0 / 255.0
    lab = np.where(inside, clip.visible[t, r, c], 0)  # (L, h, w)
    x[:, 3, :h, :w] = lab == k + 1
    x[:, 4, :h, :w] = (lab > 0) & (lab != k + 1)
    x[:, 5, :h, :w] = inside & clip.amodal[t, k, r, c]
    pair = np.minimum(t, T - 2)  # flow_fwd[t] lives on t, flow_bwd[t - 1] on t
    fwd = np.where(inside[..., None], clip.flow_fwd[pair, r, c], 0).transpose(0, 3, 1, 2)
    bwd = np.where(inside[..., None], clip.flow_bwd[np.maximum(t - 1, 0), r, c], 0).transpose(0, 3, 1, 2)
    x[: L - 1, 6:8, :h, :w] = fwd[: L - 1]
    x[1:, 8:10, :h, :w] = bwd[1:]
    return x, gx, gy


def collate(items: Sequence[TrackItem]) -> TrackBatch:
    """Stack TrackItems into a TrackBatch; shorter items are padded at the end with zeros, valid=False."""
    if not items:
        raise ValueError("collate needs at least one item")
    size = items[0].rgb.shape[-2:]  # (Ph, Pw)
    if any(it.rgb.shape[-2:] != size for it in items):
        raise SavosError(
            f"cannot batch patches of different sizes: {sorted({it.rgb.shape[-2:] for it in items})}"
        )
    T = max(it.rgb.shape[0] for it in items)

    def stack(name: str, dtype=np.float32) -> torch.Tensor:
        first = getattr(items[0], name)
        out = np.zeros((len(items), T, *first.shape[1:]), dtype)
        for b, it in enumerate(items):
            a = getattr(it, name)
            out[b, : a.shape[0]] = a
        return torch.from_numpy(out)

    known = np.zeros((len(items), T), np.bool_)  # padded frames: no truth
    for b, it in enumerate(items):
        known[b, : it.rgb.shape[0]] = True if it.known is None else it.known
    return TrackBatch(
        rgb=stack("rgb"),
        visible=stack("visible"),
        others=stack("others"),
        flow_fwd=stack("flow_fwd"),
        flow_bwd=stack("flow_bwd"),
        valid=stack("valid", np.bool_),
        amodal=stack("amodal"),
        known=torch.from_numpy(known),
        length=torch.tensor([it.rgb.shape[0] for it in items], dtype=torch.long),
        object_id=torch.tensor([it.object_id for it in items], dtype=torch.long),
        t0=torch.tensor([it.t0 for it in items], dtype=torch.long),
        keys=[it.key for it in items],
    )


def paste_back(probs, track: Track, size: tuple[int, int] | None = None, t0: int = 0):
    """Map patch predictions back onto the frames: the exact inverse of ``crop_track``.

    probs: (L, Ph, Pw) for frames [t0, t0 + L) of the track, numpy or torch -> (L, H, W) float32 of the
    same kind (numpy in, numpy out), zero outside the crop. size defaults to the track's (H, W).
    """
    is_np = isinstance(probs, np.ndarray)
    p = torch.from_numpy(np.asarray(probs, np.float32)) if is_np else probs.float()
    if p.dim() != 3 or tuple(p.shape[-2:]) != track.patch:
        raise SavosError(f"paste_back expects (L, {track.patch[0]}, {track.patch[1]}), got {tuple(p.shape)}")
    L = p.shape[0]
    H, W = track.size if size is None else size
    b = torch.from_numpy(track.boxes[t0 : t0 + L]).to(p.device)  # (L, 4)
    if b.shape[0] != L:
        raise SavosError(f"paste_back: frames [{t0}, {t0 + L}) exceed the track's {len(track.boxes)} frames")
    s = track.scale
    u = s * (torch.arange(W, device=p.device, dtype=torch.float64) - b[:, 0:1]) - 0.5  # (L, W)
    v = s * (torch.arange(H, device=p.device, dtype=torch.float64) - b[:, 1:2]) - 0.5  # (L, H)
    coords = torch.stack(torch.broadcast_tensors(u[:, None, :], v[:, :, None]), dim=1)  # (L, 2, H, W)
    with torch.no_grad():
        out = sample(p[:, None], coords.float())[:, 0]  # (L, H, W)
    return out.cpu().numpy() if is_np else out
