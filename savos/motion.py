"""Object motion between frames: each object's affine motion from one frame to the previous one.

An estimator reads what a real video gives, a track of visible masks and the flow between its frames, and
returns per object and frame t the affine map that moves a point of frame t to frame t-1
(``model.carry`` and the union rule chain these maps; savos.models.carry). They are keyed in
``MOTIONS`` by name:

- ``affine-lsq`` (the default): the weighted least-squares affine fit of the flow t -> t-1 over the core
  of the visible mask (``affine_fit``, with a 1 px^2 ridge towards a translation). Exact on exact flow of
  rigid and affine motion; on estimated flow it inherits the flow's error (0.6-0.9 px per frame on
  DIS flow of flat objects: docs/estimated-flow.md).
- ``affine-irls``: the same fit over the eroded core, reweighted (Cauchy weights on the fit's residual,
  ``IRLS_STEPS`` rounds), so that pixels whose flow disagrees with the object's motion count less.
- ``mask-align``: direct alignment of the masks. The visible masks are known exactly, so the motion
  t -> t-1 is the affine map that takes mask t onto mask t-1. Starting from ``affine-lsq``, Gauss-Newton
  (forward-additive Lucas-Kanade) minimises ``sum_p w(p) (S_{t-1}(A p + b) - S_t(p))^2`` where S is the
  mask smoothed by a Gaussian (``SIGMAS``, coarse to fine: a centre-sampled binary mask smoothed reads like
  an anti-aliased one, whose level lines move by sub-pixel amounts) and w keeps only pixels whose
  smoothing window holds no other object and no frame edge, at t and where they land at t-1: there the
  object's presence is known, elsewhere it may be hidden. The fitted map is kept only where it matches
  the masks better than the start.
- ``mask-align-sim``: the same with a similarity map (rotation, uniform scale, translation: 4
  parameters), the motion of a rigid object under a zooming camera; steadier on small visible parts.
- ``mask-align-smooth``: ``mask-align-sim``'s motions smoothed over time (savos.trajectory: a robust
  local quadratic of each of the four numbers), since an object's motion changes little from one frame
  to the next and the per-frame error of the mask alignment is different in every frame.

Shapes: visible and others (N, T, 1, H, W) in [0, 1]; flow_back (N, T, 2, H, W), the flow t -> t-1 living
on frame t (index 0 unused). Every estimator returns ``maps`` (N, T, 2, 3), [A | b] with p -> A p + b
taking frame t to frame t-1 (index 0: the identity), and ``fitted`` (N, T) bool, False where the visible
core holds fewer than ``MIN_MASS`` pixels (the carry reuses the previous frame's motion there).
Coordinates follow savos.warp: pixel (r, c) has its centre at x = c, y = r; flow channel 0 is dx.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from savos.errors import SavosError
from savos.trajectory import smooth_similarities
from savos.warp import coords_grid, sample

MIN_MASS = 3.0  # visible core pixels below which a frame's motion is not fitted (the carry carries it over)
RIDGE = 1.0  # pixels^2 added to the position covariance: a thin sliver fits a translation, not a shear
CORE = 0.999  # the fits read the visible mask where it is at least this (savos.models.carry)
IRLS_STEPS = 5  # reweighting rounds of affine-irls
IRLS_SCALE = 0.5  # px: the Cauchy weight's scale, 1 / (1 + (residual / scale)^2)
SIGMAS = (1.5, 1.0, 0.7)  # px: mask smoothing of mask-align, coarse to fine
ALIGN_STEPS = 8  # Gauss-Newton steps per smoothing level
KNOWN = 0.01  # an ``others`` value above this may hide the object
DAMPING = 1e-3  # relative Levenberg damping of the Gauss-Newton system
MIN_EDGE = 1.0  # squared mask gradient summed over the known pixels: below it, too little boundary is known

Affine = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # mean (N, 2), jacobian (N, 2, 2), centroid (N, 2)
Estimator = Callable[..., tuple[torch.Tensor, torch.Tensor]]  # (visible, flow_back, others, min_mass)


def affine_fit(flow: torch.Tensor, weight: torch.Tensor, ridge: float = RIDGE) -> Affine:
    """Weighted least-squares affine model of ``flow`` over ``weight``.

    flow (N, 2, H, W); weight (N, 1, H, W) >= 0. Returns (mean, jac, centroid): the model at pixel p is
    ``mean + jac @ (p - centroid)``; evaluate it with ``affine_field``. ``ridge`` regularises the position
    covariance towards a pure translation. An empty weight gives the zero motion.
    """
    N, _, H, W = flow.shape
    grid = coords_grid(N, H, W, device=flow.device, dtype=flow.dtype)  # (N, 2, H, W)
    w = weight.flatten(2)  # (N, 1, HW)
    total = w.sum(-1)  # (N, 1)
    mass = total.clamp_min(1e-6)
    p, f = grid.flatten(2), flow.flatten(2)  # (N, 2, HW)
    pc = (p * w).sum(-1) / mass  # (N, 2) centroid
    fm = (f * w).sum(-1) / mass  # (N, 2) mean flow
    dp, df = p - pc[..., None], f - fm[..., None]  # (N, 2, HW)
    cov_pp = torch.einsum("nix,njx->nij", dp * w, dp) / mass[..., None]  # (N, 2, 2)
    cov_fp = torch.einsum("nix,njx->nij", df * w, dp) / mass[..., None]  # (N, 2, 2)
    eye = torch.eye(2, device=flow.device, dtype=flow.dtype)
    jac = cov_fp @ torch.linalg.inv(cov_pp + ridge * eye)  # (N, 2, 2)
    empty = total[:, 0] <= 1e-6  # (N,)
    fm = torch.where(empty[:, None], torch.zeros_like(fm), fm)
    jac = torch.where(empty[:, None, None], torch.zeros_like(jac), jac)
    return fm, jac, pc


def affine_field(params: Affine, H: int, W: int) -> torch.Tensor:
    """The affine model of ``affine_fit`` at every pixel: (N, 2, H, W)."""
    mean, jac, pc = params
    N = mean.shape[0]
    dp = coords_grid(N, H, W, device=mean.device, dtype=mean.dtype) - pc[:, :, None, None]  # (N, 2, H, W)
    return mean[:, :, None, None] + torch.einsum("nij,njhw->nihw", jac, dp)


def affine_matrix(params: Affine) -> torch.Tensor:
    """The map p -> p + m(p) of an ``affine_fit`` model as (N, 2, 3) [A | b]: p -> A p + b."""
    mean, jac, pc = params
    lin = torch.eye(2, dtype=mean.dtype, device=mean.device) + jac  # (N, 2, 2)
    return torch.cat([lin, (mean - (jac @ pc[..., None])[..., 0])[..., None]], dim=-1)


def _check(visible: torch.Tensor, flow_back: torch.Tensor) -> None:
    assert visible.dim() == 5 and visible.shape[2] == 1, visible.shape
    assert flow_back.shape == (*visible.shape[:2], 2, *visible.shape[3:]), (visible.shape, flow_back.shape)


def _identity(N: int, like: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(2, 3, dtype=like.dtype, device=like.device)
    return eye.expand(N, 2, 3)


def affine_lsq(visible: torch.Tensor, flow_back: torch.Tensor, others: torch.Tensor | None = None,
               min_mass: float = MIN_MASS) -> tuple[torch.Tensor, torch.Tensor]:
    """``affine_fit`` of the flow over the visible core, frame by frame (module docstring)."""
    _check(visible, flow_back)
    N, T = visible.shape[:2]
    maps, fitted = [_identity(N, flow_back)], [torch.zeros(N, dtype=torch.bool, device=visible.device)]
    for t in range(1, T):
        core = (visible[:, t] >= CORE).to(visible.dtype)  # (N, 1, H, W)
        maps.append(affine_matrix(affine_fit(flow_back[:, t], core)))
        fitted.append(core.flatten(1).sum(-1) >= min_mass)
    return torch.stack(maps, dim=1), torch.stack(fitted, dim=1)


def _erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """(M, 1, H, W) in {0, 1} -> pixels whose (2 radius + 1)^2 window lies in the mask and in the frame."""
    if radius <= 0:
        return mask
    return -F.max_pool2d(F.pad(-mask, (radius,) * 4, value=-0.0), 2 * radius + 1, stride=1)


def affine_irls(visible: torch.Tensor, flow_back: torch.Tensor, others: torch.Tensor | None = None,
                min_mass: float = MIN_MASS) -> tuple[torch.Tensor, torch.Tensor]:
    """Robust affine fit of the flow over the eroded visible core (module docstring)."""
    _check(visible, flow_back)
    N, T, _, H, W = visible.shape
    v = visible[:, 1:].flatten(0, 1)  # (M, 1, H, W), M = N (T-1)
    flow = flow_back[:, 1:].flatten(0, 1)  # (M, 2, H, W)
    core = (v >= CORE).to(v.dtype)
    eroded = _erode(core, 1)
    thin = eroded.flatten(1).sum(-1) < 4 * min_mass  # too little left after erosion: the whole core
    base = torch.where(thin[:, None, None, None], core, eroded)
    weight = base
    for _ in range(IRLS_STEPS):
        params = affine_fit(flow, weight)
        residual = (flow - affine_field(params, H, W)).norm(dim=1, keepdim=True)  # (M, 1, H, W) px
        weight = base / (1.0 + (residual / IRLS_SCALE) ** 2)
    maps = affine_matrix(affine_fit(flow, weight)).view(N, T - 1, 2, 3)
    fitted = (core.flatten(1).sum(-1) >= min_mass).view(N, T - 1)
    return _with_first(maps, fitted)


def _with_first(maps: torch.Tensor, fitted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Prepend frame 0's entry (the identity, not fitted) to maps (N, T-1, 2, 3) and fitted (N, T-1)."""
    N = maps.shape[0]
    first = _identity(N, maps)[:, None]
    return torch.cat([first, maps], dim=1), torch.cat([fitted.new_zeros(N, 1), fitted], dim=1)


def _gaussian(sigma: float, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, int]:
    """1-D Gaussian of ``sigma`` px and its derivative, sampled at whole pixels: (2r+1,) each, and r."""
    r = max(1, math.ceil(2 * sigma))
    x = torch.arange(-r, r + 1, dtype=dtype)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    return g, -x / sigma**2 * g, r


def smoothed(mask: torch.Tensor, sigma: float) -> tuple[torch.Tensor, int]:
    """mask (M, 1, H, W) -> (M, 3, H, W): the mask smoothed by a Gaussian of ``sigma`` px and its x and y
    derivatives (zeros outside the frame); and the smoothing radius r (px)."""
    g, dg, r = _gaussian(sigma, mask.dtype)

    def sep(x: torch.Tensor, kx: torch.Tensor, ky: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(F.pad(x, (r, r, 0, 0)), kx.view(1, 1, 1, -1))
        return F.conv2d(F.pad(x, (0, 0, r, r)), ky.view(1, 1, -1, 1))

    # correlation with the reversed derivative kernel is convolution with the derivative
    return torch.cat([sep(mask, g, g), sep(mask, dg.flip(0), g), sep(mask, g, dg.flip(0))], dim=1), r


def align_masks(source: torch.Tensor, target: torch.Tensor, known_source: torch.Tensor,
                known_target: torch.Tensor, init: torch.Tensor, similarity: bool = False
                ) -> torch.Tensor:
    """The affine map [A | b] (M, 2, 3) taking mask ``source`` onto mask ``target`` (module docstring,
    ``mask-align``), from ``init`` (M, 2, 3).

    source, target (M, 1, H, W) in [0, 1]; known_source, known_target (M, 1, H, W) in {0, 1}: where the
    object's presence is known (no other object there). similarity: fit rotation, scale and translation
    only. Where the fit matches the masks worse than ``init`` (at the finest smoothing), init is kept.
    """
    M = source.shape[0]
    pairs = torch.arange(M)
    return align_frames(torch.cat([source, target]), torch.cat([known_source, known_target]), pairs,
                        pairs + M, init, similarity)


def align_frames(frames: torch.Tensor, known: torch.Tensor, src: torch.Tensor, tgt: torch.Tensor,
                 init: torch.Tensor, similarity: bool = False) -> torch.Tensor:
    """``align_masks`` of ``frames[src]`` onto ``frames[tgt]`` (index tensors (M,)), each frame smoothed
    once however many pairs read it: frames, known (F, 1, H, W); init (M, 2, 3) -> (M, 2, 3)."""
    M = src.shape[0]
    H, W = frames.shape[-2:]
    dtype = torch.float64
    frames, known = frames.to(dtype), known.to(dtype)
    pix = coords_grid(1, H, W, dtype=dtype)[0].flatten(1)  # (2, HW): x, y
    x, y = pix[0], pix[1]
    theta = init.to(dtype).clone()
    if similarity:  # start from the similarity closest to init: the steps below keep A one
        a = 0.5 * (theta[:, 0, 0] + theta[:, 1, 1])
        b = 0.5 * (theta[:, 1, 0] - theta[:, 0, 1])
        theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 1], theta[:, 1, 0] = a, a, -b, b
    for sigma in SIGMAS:
        smooth, r = smoothed(frames, sigma)  # (F, 3, H, W)
        inner = _erode(known, r)  # (F, 1, H, W): its window holds no other object nor the frame edge
        w_src = inner[src].flatten(1)  # (M, HW)
        stack = torch.cat([smooth, inner], dim=1)[tgt]  # (M, 4, H, W): S, S_x, S_y, known
        ref = smooth[src, 0].flatten(1)  # (M, HW)

        def residual(th: torch.Tensor, stack=stack, ref=ref, w_src=w_src):
            q = torch.einsum("mij,jp->mip", th[..., :2], pix) + th[..., 2:]  # (M, 2, HW)
            got = sample(stack, q.view(M, 2, H, W)).flatten(2)  # (M, 4, HW)
            w = w_src * (got[:, 3] > 0.999)
            return got[:, 0] - ref, got[:, 1], got[:, 2], w

        for _ in range(ALIGN_STEPS):
            res, gx, gy, w = residual(theta)
            if similarity:  # A = [[a, -b], [b, a]]: d/da = (x, y), d/db = (-y, x)
                jac = torch.stack([gx * x + gy * y, gy * x - gx * y, gx, gy], dim=-1)  # (M, HW, 4)
            else:
                jac = torch.stack([gx * x, gx * y, gx, gy * x, gy * y, gy], dim=-1)  # (M, HW, 6)
            wjac = jac * w[..., None]  # (M, HW, P)
            hess = wjac.transpose(1, 2) @ jac
            diag = hess.diagonal(dim1=-2, dim2=-1)
            hess = hess + torch.diag_embed(DAMPING * diag + 1e-9 * (1.0 + diag.sum(-1, keepdim=True)))
            grad = (wjac.transpose(1, 2) @ res[..., None])[..., 0]
            delta = -torch.linalg.solve(hess, grad[..., None])[..., 0]  # (M, 4 | 6)
            if similarity:
                a, b, tx, ty = delta.unbind(-1)
                delta = torch.stack([a, -b, tx, b, a, ty], dim=-1)
            theta = theta + delta.view(M, 2, 3)
    # keep the fit only where it matches better than init on the pixels known under both maps
    start = init.to(dtype)
    res1, gx1, gy1, w1 = residual(theta)
    res0, _, _, w0 = residual(start)
    both = w1 * w0
    edge = (both * (gx1 * gx1 + gy1 * gy1)).sum(-1)  # squared-gradient mass: how much boundary is known
    better = ((both * res1 * res1).sum(-1) <= (both * res0 * res0).sum(-1)) & (edge >= MIN_EDGE)
    better &= torch.isfinite(theta).all(-1).all(-1)
    return torch.where(better[:, None, None], theta, start).to(init.dtype)


def _known(others: torch.Tensor | None, visible: torch.Tensor) -> torch.Tensor:
    if others is None:
        return torch.ones_like(visible)
    return (others <= KNOWN).to(visible.dtype)


def _mask_align(similarity: bool) -> Estimator:
    def estimate(visible: torch.Tensor, flow_back: torch.Tensor, others: torch.Tensor | None = None,
                 min_mass: float = MIN_MASS) -> tuple[torch.Tensor, torch.Tensor]:
        maps, fitted = affine_lsq(visible, flow_back, min_mass=min_mass)
        N, T = visible.shape[:2]
        if T < 2:
            return maps, fitted
        known = _known(others, visible)
        at = torch.arange(N * T).view(N, T)
        src, tgt = at[:, 1:].flatten(), at[:, :-1].flatten()  # frame t onto t-1
        refined = align_frames(visible.flatten(0, 1), known.flatten(0, 1), src, tgt,
                               maps[:, 1:].flatten(0, 1), similarity)
        return torch.cat([maps[:, :1], refined.view(N, T - 1, 2, 3)], dim=1), fitted

    return estimate


def _smoothed(estimator: Estimator) -> Estimator:
    def estimate(visible: torch.Tensor, flow_back: torch.Tensor, others: torch.Tensor | None = None,
                 min_mass: float = MIN_MASS) -> tuple[torch.Tensor, torch.Tensor]:
        maps, fitted = estimator(visible, flow_back, others, min_mass)
        return smooth_similarities(maps, fitted, visible), fitted

    return estimate


MOTIONS: dict[str, Estimator] = {
    "affine-lsq": affine_lsq,
    "affine-irls": affine_irls,
    "mask-align": _mask_align(False),
    "mask-align-sim": _mask_align(True),
    "mask-align-smooth": _smoothed(_mask_align(True)),
}
DEFAULT = "affine-lsq"


def check_motion(name: str, what: str = "motion") -> str:
    """``name`` if it is a motion estimator of ``MOTIONS``, else one line naming ``what`` and the choices."""
    if name not in MOTIONS:
        raise SavosError(f"{what}: unknown motion estimator {name!r}; choose one of {', '.join(MOTIONS)}")
    return name


def step_motions(name: str, visible: torch.Tensor, flow_back: torch.Tensor,
                 others: torch.Tensor | None = None, min_mass: float = MIN_MASS
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Motion estimator ``name``: maps (N, T, 2, 3) frame t -> t-1 and fitted (N, T) (module docstring)."""
    _check(visible, flow_back)
    return MOTIONS[check_motion(name)](visible, flow_back, others, min_mass)
