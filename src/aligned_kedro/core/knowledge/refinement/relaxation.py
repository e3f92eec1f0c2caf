"""The relaxation of Eq. 6: ε, the relaxed deduction, and the proxes of its penalty.

With ε_t(X) = 1 - exp(-tX) for X >= 0, the relaxed closures R̄±(k) (Eq. 1 in real
arithmetic on R̄±(0)) give the prediction for an input x as

- ``relaxation="difference"`` (default): ε_tk(R̄+(k) - R̄-(k))^T x as Eq. 6 is printed,
  with ε extended as an odd function, sign(X)·ε_t(|X|). It keeps the sign of the integer
  deduction δ_KB.
- ``relaxation="separate"``: (ε_tk(R̄+(k)) - ε_tk(R̄-(k)))^T x. ε is applied to each
  signed closure, where its argument is non-negative; it predicts about 0 wherever both
  signs are reached, so it rarely moves an edge.

The penalty λ(||ε_t0(|R̄+ - R+|)||_1 + ||ε_t0(|R̄- - R-|)||_1) is a soft count of the
entries that differ from the input KB. It acts on the deviation D = R̄ - R, which a
proximal step shrinks towards 0 (towards the input KB); R̄ >= 0 is the bound D >= -R.
"""

from __future__ import annotations

from typing import Literal

import torch

Penalty = Literal["l1", "frobenius"]
Prox = Literal["exact", "soft"]
Relaxation = Literal["separate", "difference"]

EXP_LIMIT = 80.0
_NEWTON_STEPS = 50
_SCREEN_MARGIN = 1e-3


def relax(X: torch.Tensor, t: float) -> torch.Tensor:
    """ε_t(X) = 1 - exp(-tX) for X >= 0 (Eq. 6), elementwise, same shape as X."""
    return -torch.expm1(-t * X)


def prox_soft(v: torch.Tensor, a: torch.Tensor | float, lower: torch.Tensor) -> torch.Tensor:
    """Prox of a|d|, the ℓ1 envelope of the Eq. 6 penalty: soft-threshold by a, then d >= lower.

    The tangent bound ε_t0(|d|) <= t0|d| is too coarse, so the chord λ|d| (equal to the
    penalty at |d| = 0 and, up to e^-t0, at |d| = 1) stands for it.
    """
    return torch.maximum(torch.sign(v) * torch.clamp(v.abs() - a, min=0.0), lower)


def prox_frobenius(v: torch.Tensor, a: torch.Tensor | float, lower: torch.Tensor) -> torch.Tensor:
    """Prox of a·d² (the non-sparse Frobenius ablation of Eq. 6): v / (1 + 2a), then d >= lower."""
    return torch.maximum(v / (1.0 + 2.0 * a), lower)


def prox_eps(
    v: torch.Tensor, a: torch.Tensor | float, t0: float, lower: torch.Tensor
) -> torch.Tensor:
    """Exact prox of a·ε_t0(|d|) (the Eq. 6 penalty, a = ηλ) per entry, subject to d >= lower.

    Minimises h(d) = (d - v)²/2 + a(1 - exp(-t0|d|)) with `lower` <= 0. h is non-convex
    once a·t0² > 1; the candidates are d = 0, d = `lower`, and s·u on the side s of v, u
    the larger root of u - |v| + a·t0·exp(-t0·u) = 0 (it exists when that function is
    negative at its minimum u* = max(0, ln(a t0²)/t0); Newton's method from |v| decreases
    monotonically to it), clipped to the bound. The lowest candidate wins; ties keep
    d = 0. For a >> 1/t0² this is a hard threshold: an entry moves only when the modelled
    decrease of the data term beats a.

    Parameters
    ----------
    v
        Points, any shape.
    a
        Weights of the penalty, broadcast to v.
    t0
        Sharpness of ε.
    lower
        Lower bounds <= 0, broadcast to v.

    Returns
    -------
    torch.Tensor
        The minimisers, shape and dtype of v (computed in float64).

    Only the entries that can move are solved. With the bound at 0, d = 0 unless |v|
    passes two necessary conditions (with a margin): the root exists, |v| >
    (ln(max(a t0², 1)) + min(a t0², 1))/t0, and it can beat d = 0: at the root
    a·t0·exp(-t0·u) = |v| - u, so h(u) >= a - |v|/t0, which must be below h(0) = v²/2.
    Most absent entries of a large KB fail them. With the bound below 0 (a present
    entry), d = 0 also needs the bound to lose: h(lower) - h(0) = lower²/2 - lower·v +
    a·ε_t0(|lower|) > 0 (with a margin). Newton's method stops per entry (its step at
    most 1e-12), so the solved entries do not depend on which others are solved.
    """
    t = float(t0)
    a_t = a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=torch.float64)
    a_v = torch.broadcast_to(a_t, v.shape)
    lo = torch.broadcast_to(lower, v.shape).to(v.dtype)
    a_c = a_v.to(v.dtype)
    # h(lower) - h(0): the bound candidate against d = 0
    gap = 0.5 * lo * lo - lo * v - a_c * torch.expm1(-t * lo.abs())
    bound_loses = gap > _SCREEN_MARGIN * (1.0 + (lo * v).abs() + a_c)
    fixed = prox_eps_screen(v, a_v, t) & ((lo == 0) | bound_loses)
    if not bool(fixed.any()):
        return _prox_eps_solve(v, a_v, t, lower)
    out = torch.zeros_like(v)
    moving = (~fixed).nonzero(as_tuple=True)
    lo_b = torch.broadcast_to(lower, v.shape)
    out[moving] = _prox_eps_solve(v[moving], a_v[moving], t, lo_b[moving])
    return out


def prox_eps_screen(v: torch.Tensor, a: torch.Tensor, t0: float) -> torch.Tensor:
    """Where `prox_eps` with the bound at 0 returns 0 without solving (its screen), v's
    shape: |v| fails one of the two necessary conditions for moving, with a margin.
    `a` has v's shape."""
    t = float(t0)
    at2 = a.to(v.dtype) * (t * t)
    threshold = (torch.log(torch.clamp(at2, min=1.0)) + torch.clamp(at2, max=1.0)) / t
    mag = v.abs()
    return (mag < threshold * (1.0 - _SCREEN_MARGIN) - _SCREEN_MARGIN) | (
        0.5 * mag * mag + mag / t < a.to(v.dtype) * (1.0 - _SCREEN_MARGIN) - _SCREEN_MARGIN
    )


def _prox_eps_solve(
    v: torch.Tensor, a: torch.Tensor, t: float, lower: torch.Tensor
) -> torch.Tensor:
    """`prox_eps` on every entry, in float64."""
    work = torch.float64
    vv = v.to(work)
    lo = torch.broadcast_to(lower.to(work), vv.shape)
    a_ = torch.broadcast_to(a.to(work), vv.shape)
    mag = vv.abs()
    c = a_ * t
    u_min = torch.clamp(torch.log(torch.clamp(c * t, min=1e-300)) / t, min=0.0)
    exists = (mag > 0) & (u_min - mag + c * torch.exp(-t * u_min) < 0)
    stationary = torch.zeros_like(vv)
    if bool(exists.any()):
        m, cc = mag[exists], c[exists]
        u = m.clone()
        active = torch.arange(len(u))
        for _ in range(_NEWTON_STEPS):
            ua = u[active]
            e = cc[active] * torch.exp(-t * ua)
            step = (ua - m[active] + e) / (1.0 - t * e)
            u[active] = ua - step
            active = active[step.abs() > 1e-12]
            if not len(active):
                break
        stationary[exists] = torch.sign(vv[exists]) * torch.clamp(u, min=0.0)
    stationary = torch.maximum(stationary, lo)

    def h(d: torch.Tensor) -> torch.Tensor:
        return 0.5 * (d - vv) ** 2 - a_ * torch.expm1(-t * d.abs())

    best = torch.zeros_like(vv)
    best_h = h(best)
    for candidate in (stationary, lo):
        value = h(candidate)
        better = value < best_h - 1e-12 * torch.clamp(best_h, min=1.0)
        best = torch.where(better, candidate, best)
        best_h = torch.where(better, value, best_h)
    return best.to(v.dtype)


def predict(p: torch.Tensor, n: torch.Tensor, tk: float, relaxation: Relaxation) -> torch.Tensor:
    """Relaxed deduction of Eq. 6 from rows of R̄+(k), R̄-(k): ε_tk(P) - ε_tk(N), or odd ε_tk(P - N).

    Exponents are clipped at `EXP_LIMIT`, which keeps float32 denormals (slow on CPUs)
    out of the products.

    Parameters
    ----------
    p, n
        Rows of the relaxed closures, (B, c) each.
    tk
        Sharpness of ε.
    relaxation
        "difference" or "separate" (see the module docstring).

    Returns
    -------
    torch.Tensor
        The relaxed deductions of the basis rows, (B, c), in (-1, 1).
    """
    if relaxation == "difference":
        return predict_difference(p - n, tk)
    # Eq. 6, separate: ε(P) - ε(N) = exp(-N) - exp(-P)
    return torch.exp(-(tk * n).clamp(max=EXP_LIMIT)) - torch.exp(-(tk * p).clamp(max=EXP_LIMIT))


def predict_difference(d: torch.Tensor, tk: float) -> torch.Tensor:
    """The "difference" prediction of Eq. 6 from rows of R̄+(k) - R̄-(k): odd ε_tk(d), (B, c).

    `predict` with ``relaxation="difference"`` depends on R̄+(k) and R̄-(k) only through
    their difference, the closure of R̄+ - R̄- (Eq. 1 with signs: a step through R̄-
    flips the sign of a walk).
    """
    d = tk * d
    if not (torch.is_grad_enabled() and d.requires_grad):
        # the same values with one expm1; autograd needs the two branches (slope 1 at d = 0)
        return torch.copysign(-torch.expm1(-d.abs().clamp(max=EXP_LIMIT)), d)
    # Eq. 6, odd ε: sign(d)·(1 - exp(-|d|))
    return torch.where(
        d > 0,
        -torch.expm1(-d.clamp(min=0.0, max=EXP_LIMIT)),
        torch.expm1(d.clamp(min=-EXP_LIMIT, max=0.0)),
    )
