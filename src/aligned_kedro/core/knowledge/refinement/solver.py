"""Knowledge refinement of section 3.4 (Eq. 6) by proximal gradient, on regulator rows only.

Parameters are the non-negative real matrices R̄+(0), R̄-(0), initialised from the KB's
0/1 matrices R+(0), R-(0). The self-activation diagonal of R+(0) (appendix B.2) is not a
regulatory edge: it stays at 1 and is never refined.

Reading of Eq. 6:

- Relaxed closure: Eq. 1 in real arithmetic on R̄, so R̄±(k) sum the products of edge
  values along the signed walks of exactly k+1 steps (as `closure.deduce` counts them).
- Prediction for an input x, with ε_t(X) = 1 - exp(-tX) for X >= 0:
  `relaxation="difference"` (default): ε_tk(R̄+(k) - R̄-(k))^T x as Eq. 6 is printed, with
  ε extended as an odd function, sign(X)·ε_t(|X|). It keeps the sign of the integer
  deduction δ_KB.
  `relaxation="separate"`: (ε_tk(R̄+(k)) - ε_tk(R̄-(k)))^T x. ε is applied to each signed
  closure, where its argument is non-negative; it predicts about 0 wherever both signs
  are reached, so it rarely moves an edge.
- Data term f: the sum over (x, ȳ) of ||prediction - ȳ||².
- Penalty: λ(||ε_t0(|R̄+ - R+|)||_1 + ||ε_t0(|R̄- - R-|)||_1), a soft count of the entries
  that differ from the input KB. It acts on the deviation D = R̄ - R, which the proximal
  step shrinks towards 0 (towards the input KB); R̄ >= 0 is the bound D >= -R.
- Defaults. tk = 1 as in the paper: with the self-activation diagonal one direct edge
  makes k+1 walks, so ε saturates at a single edge (ε(5) = 0.993 for k = 4) and the
  relaxed prediction is close to the sign of the integer deduction; tk = None means
  1/(k+1), ε(1) per edge. λ is the price of one changed entry in squared errors summed
  over the inputs, and an edge reaches more inputs as they grow, so lam = None means
  0.085 per input (λ = 19.9 for 234 inputs), the best direct F1 of the section 4.2
  benchmark on the E. coli KB at 10 and 30 % noise. The paper's λ = 1 adds shortcut
  edges by the thousand on the E. coli KB.

Proximal step (`prox`), per entry e with step η_e:

- "exact" (default): the exact minimiser of (d - v)²/(2η_e) + λ ε_t0(|d|) over d >= -R.
  It is non-convex once η_e λ t0² > 1; the minimiser is d = 0, the bound d = -R, or the
  larger stationary point on the side of v (Newton's method from |v|, which is monotone
  there), whichever is lowest; ties keep d = 0. For η_e >> 1/(λ t0²) this is a hard
  threshold: an entry changes only when the modelled decrease of f beats λ, the price of
  one changed entry.
- "soft": the ℓ1 envelope. The tangent bound ε_t0(|d|) <= t0|d| is too coarse, so the
  chord λ|d| (equal to the penalty at |d| = 0 and, up to e^-t0, at |d| = 1) is minimised
  instead: soft-thresholding by η_e λ, then projection onto d >= -R (R̄ >= 0).
- `penalty="frobenius"`: the non-sparse ablation λ||R̄ - R||_F², prox v / (1 + 2η_e λ),
  then the same projection.

Steps: η_e = σ_j / h_e with a diagonal curvature h_e of f and a step scale σ_j per target
column j. For absent entries h_e is the Gauss-Newton diagonal (squared sensitivity of the
predictions, summed over inputs; for a regulator target j also of the genes j reaches,
through the mean walk counts from j). For present entries it is the secant through the
exact change of f when the entry alone is removed, so that removing an edge whose effect
ε has saturated is judged by its true effect. Where f is concave along that line (the
secant curvature is not positive, as when ε saturates), the gradient is replaced by the
chord slope -Δf/R̄ with the minimal curvature: the quadratic model is then exact at the
removal, and the prox removes the entry exactly when the removal lowers f by more than
the penalty it costs. Without this scaling, hubs reached by many
walks dominate the gradient and only their entries move. Target columns of genes outside
`rows` depend only on their own column given the regulator block, so their steps are
backtracked column by column (f_j(z) <= f_j(w) + <∇f_j, z - w> + Σ (z - w)²/(2η), Beck &
Teboulle); the regulator columns are backtracked per column and on the total f, and a
step that still raises the objective (f + penalty) is undone, so the objective never
increases. Iterations alternate between the two column groups; accepted steps grow by
1.5. The loop stops when the objective decreases by less than `tol` (relative) over one
cycle, or after `max_iter` iterations.

Output: the thresholded KB and a signed edge table (kept, added, removed). Each edge also
gets its support, f_j without it minus f_j with it on its own target column, the other
entries as refined: the exact quantity the prox compares with λ when it decides on a
removal. With the inputs that reach its regulator it tells which edges the data back,
contradict, or cannot test.

Cost: only regulators have outgoing edges and only closure rows of perturbed genes enter
the prediction. Parameters are `rows x n` dense tensors, rows = KB regulators ∪ perturbed
genes. One basis row vector per distinct perturbed gene is propagated k+1 times through
the `rows x rows` block (columns outside `rows` have no outgoing edge but their
self-activation, so they stop propagating); walks that leave `rows` are collected by one
product through the `rows x (n - rows)` block, as in `closure`. The prediction is
X_rows @ (ε(P) - ε(N)). Inputs are processed in blocks of at most `batch_size` distinct
perturbed genes, so memory stays bounded. Nothing n x n is built.

float32 is the default: ε saturates, so path counts need only relative precision, and
the products run about twice as fast as in float64 (`dtype=torch.float64` is available).
Exponents are clipped at 80 and deviations below 1e-20 set to 0, which keeps float32
denormals (slow on CPUs) out of the products.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb
from aligned_kedro.core.threads import torch_threads

Penalty = Literal["l1", "frobenius"]
Prox = Literal["exact", "soft"]
Relaxation = Literal["separate", "difference"]

REFINED_EDGE_COLUMNS = (
    "regulator",
    "target",
    "sign",
    "score",
    "status",
    "support",
    "inputs_reaching",
)
_BLOCK_ELEMENTS = 4 * 2**20
_SECANT_CHUNK = 4096
_NEWTON_STEPS = 50
_MAX_BACKTRACKS = 30
_MAX_BACKTRACKS_REGULATORS = 6
_GROWTH = 1.5
_MIN_CURVATURE = 1e-3
LAM_PER_INPUT = 0.085
_EXP_LIMIT = 80.0
_TINY = 1e-20


@dataclass(frozen=True)
class RefineResult:
    """Refined KB (Eq. 6, thresholded), its signed edge table and the optimisation trace."""

    kb: KnowledgeBase
    edges: pd.DataFrame
    summary: dict[str, int | float | bool | str]
    loss: list[float] = field(repr=False)
    iterations: int
    seconds: float
    converged: bool


def relax(X: torch.Tensor, t: float) -> torch.Tensor:
    """ε_t(X) = 1 - exp(-tX) for X >= 0 (section 3.4)."""
    return -torch.expm1(-t * X)


def prox_soft(v: torch.Tensor, a: torch.Tensor | float, lower: torch.Tensor) -> torch.Tensor:
    """Prox of a|d| (ℓ1 envelope of the Eq. 6 penalty): soft-threshold by a, then d >= lower."""
    return torch.maximum(torch.sign(v) * torch.clamp(v.abs() - a, min=0.0), lower)


def prox_frobenius(v: torch.Tensor, a: torch.Tensor | float, lower: torch.Tensor) -> torch.Tensor:
    """Prox of a·d² (Frobenius ablation of Eq. 6): v / (1 + 2a), then d >= lower."""
    return torch.maximum(v / (1.0 + 2.0 * a), lower)


def prox_eps(
    v: torch.Tensor, a: torch.Tensor | float, t0: float, lower: torch.Tensor
) -> torch.Tensor:
    """Exact prox of a·ε_t0(|d|) (Eq. 6 penalty, a = ηλ) per entry, subject to d >= lower.

    Minimises h(d) = (d - v)²/2 + a(1 - exp(-t0|d|)) with `lower` <= 0. Candidates:
    d = 0, d = `lower`, and s·u on the side s of v, u the larger root of
    u - |v| + a·t0·exp(-t0·u) = 0 (it exists when that function is negative at its
    minimum u* = max(0, ln(a t0²)/t0); Newton's method from |v| decreases monotonically
    to it), clipped to the bound. The lowest candidate wins; ties keep d = 0.
    """
    work = torch.float64
    vv = v.to(work)
    lo = torch.broadcast_to(lower.to(work), vv.shape)
    a_ = torch.broadcast_to(torch.as_tensor(a, dtype=work), vv.shape)
    t = float(t0)
    mag = vv.abs()
    c = a_ * t
    u_min = torch.clamp(torch.log(torch.clamp(c * t, min=1e-300)) / t, min=0.0)
    exists = (mag > 0) & (u_min - mag + c * torch.exp(-t * u_min) < 0)
    stationary = torch.zeros_like(vv)
    if bool(exists.any()):
        m, cc = mag[exists], c[exists]
        u = m.clone()
        for _ in range(_NEWTON_STEPS):
            e = cc * torch.exp(-t * u)
            step = (u - m + e) / (1.0 - t * e)
            u = u - step
            if float(step.abs().max()) <= 1e-12:
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


def _prediction(p: torch.Tensor, n: torch.Tensor, tk: float, relaxation: str) -> torch.Tensor:
    """Relaxed deduction of one basis row set: ε_tk(P) - ε_tk(N), or odd ε_tk(P - N)."""
    if relaxation == "difference":
        d = tk * (p - n)
        return torch.where(
            d > 0,
            -torch.expm1(-d.clamp(min=0.0, max=_EXP_LIMIT)),
            torch.expm1(d.clamp(min=-_EXP_LIMIT, max=0.0)),
        )
    return torch.exp(-(tk * n).clamp(max=_EXP_LIMIT)) - torch.exp(-(tk * p).clamp(max=_EXP_LIMIT))


@dataclass(frozen=True)
class _Block:
    """Inputs that perturb at most `batch_size` distinct genes: basis, inputs and targets."""

    basis: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor


@dataclass
class _Cache:
    """Reach of each block's basis from the last gradient evaluation."""

    reach: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)


class RefineProblem:
    """Row-restricted data term of Eq. 6 in the column layout [rows | other genes].

    `rows` (KB regulators ∪ genes perturbed in X) index the parameter rows; column c of a
    parameter tensor is gene `layout[c]`, and the first `len(rows)` columns are `rows`, so
    the fixed self-activation sits at (i, i). `r_pos`, `r_neg` are R±(0) on those rows.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        X: np.ndarray | sp.spmatrix,
        Y_bar: np.ndarray | sp.spmatrix,
        *,
        k: int,
        tk: float,
        relaxation: Relaxation = "difference",
        batch_size: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        n = kb.n_genes
        xs, y = _check_inputs(X, Y_bar, n)
        self.n_inputs = xs.shape[0]
        self.perturbed = np.flatnonzero(np.diff(xs.tocsc().indptr))
        self.rows = np.union1d(kb.regulators, self.perturbed).astype(np.intp)
        self.r = len(self.rows)
        others = np.setdiff1d(np.arange(n, dtype=np.intp), self.rows, assume_unique=True)
        self.layout = np.concatenate([self.rows, others])
        self.k, self.tk, self.relaxation, self.dtype = k, float(tk), relaxation, dtype
        position = np.full(n, -1, dtype=np.intp)
        position[self.rows] = np.arange(self.r)
        limit = batch_size or max(1, _BLOCK_ELEMENTS // max(n, 1))
        self.blocks = _blocks(xs, y, position, self.layout, limit, dtype)
        self.r_pos = torch.as_tensor(kb.r_pos[self.rows][:, self.layout].toarray(), dtype=dtype)
        self.r_neg = torch.as_tensor(kb.r_neg[self.rows][:, self.layout].toarray(), dtype=dtype)
        self._cache = _Cache()

    def propagate(
        self, wp: torch.Tensor, wn: torch.Tensor, basis: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows of R̄+(k), R̄-(k) for the basis genes (Eq. 1, real arithmetic) and their reach.

        The reach sums the propagated states before each of the k+1 steps; walks that
        leave `rows` are collected from it with one product through the outer block.
        """
        r = self.r
        b = len(basis)
        state_p = torch.zeros((b, r), dtype=wp.dtype)
        state_p[torch.arange(b), basis] = 1.0
        state_n = torch.zeros_like(state_p)
        reach_p = torch.zeros_like(state_p)
        reach_n = torch.zeros_like(state_p)
        wp_in, wn_in = wp[:, :r], wn[:, :r]
        for _ in range(self.k + 1):
            reach_p = reach_p + state_p
            reach_n = reach_n + state_n
            state_p, state_n = (
                state_p @ wp_in + state_n @ wn_in,
                state_p @ wn_in + state_n @ wp_in,
            )
        p_out, n_out = _exit(reach_p, reach_n, wp[:, r:], wn[:, r:])
        return (
            torch.cat([state_p, p_out], dim=1),
            torch.cat([state_n, n_out], dim=1),
            reach_p,
            reach_n,
        )

    def data_term(
        self, wp: torch.Tensor, wn: torch.Tensor, *, grad: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Per-column f_j of Eq. 6 (float64) and, if asked, the gradients on R̄+, R̄-."""
        total = torch.zeros(wp.shape[1], dtype=torch.float64)
        gp = torch.zeros_like(wp) if grad else None
        gn = torch.zeros_like(wn) if grad else None
        for block in self.blocks:
            with torch.set_grad_enabled(grad):
                p_in = wp.detach().requires_grad_(grad)
                n_in = wn.detach().requires_grad_(grad)
                p, n, _, _ = self.propagate(p_in, n_in, block.basis)
                pred = _prediction(p, n, self.tk, self.relaxation)
                per_column = ((torch.sparse.mm(block.x, pred) - block.y) ** 2).sum(dim=0)
                if grad:
                    dp, dn = torch.autograd.grad(per_column.sum(), (p_in, n_in))
                    gp += dp
                    gn += dn
            total += per_column.detach().double()
        return total, gp, gn

    def _evaluate(
        self, wp: torch.Tensor, wn: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """f_j, gradients and the diagonal curvature (Gauss-Newton / removal secant)."""
        total = torch.zeros(wp.shape[1], dtype=torch.float64)
        gp, gn = torch.zeros_like(wp), torch.zeros_like(wn)
        hp, hn = torch.zeros_like(wp), torch.zeros_like(wn)
        removal_p, removal_n = torch.zeros_like(wp), torch.zeros_like(wn)
        present_p = _present(wp, diagonal=False)
        present_n = _present(wn, diagonal=True)
        self._cache.reach = []
        tk = self.tk
        r = self.r
        with torch.no_grad():
            down_p, down_n = self._walk_mean(wp, wn)
            if self.relaxation == "difference":
                down_sq = (down_p - down_n) ** 2
            else:
                down_sq = (down_p + down_n) ** 2
            down_sq[torch.arange(r), torch.arange(r)] = 0.0
        for block in self.blocks:
            p_in = wp.detach().requires_grad_(True)
            n_in = wn.detach().requires_grad_(True)
            p, n, reach_p, reach_n = self.propagate(p_in, n_in, block.basis)
            pred = _prediction(p, n, tk, self.relaxation)
            residual = torch.sparse.mm(block.x, pred) - block.y
            per_column = (residual**2).sum(dim=0)
            dp, dn = torch.autograd.grad(per_column.sum(), (p_in, n_in))
            gp += dp
            gn += dn
            total += per_column.detach().double()
            with torch.no_grad():
                p, n, residual = p.detach(), n.detach(), residual.detach()
                ap, an = reach_p.detach(), reach_n.detach()
                self._cache.reach.append((ap, an))
                w = block.weight[:, None]
                if self.relaxation == "difference":
                    e2 = (tk * torch.exp(-(tk * (p - n).abs()).clamp(max=_EXP_LIMIT))) ** 2
                    mass = (w * (ap - an) ** 2).T
                    own = 2.0 * (mass @ e2)
                    hp += own
                    hn += own
                else:
                    ep = tk * torch.exp(-(tk * p).clamp(max=_EXP_LIMIT))
                    en = tk * torch.exp(-(tk * n).clamp(max=_EXP_LIMIT))
                    pp, nn_, pn = (w * ap * ap).T, (w * an * an).T, (w * ap * an).T
                    cross = pn @ (ep * en)
                    hp += 2.0 * (pp @ (ep * ep) + nn_ @ (en * en) - 2.0 * cross)
                    hn += 2.0 * (nn_ @ (ep * ep) + pp @ (en * en) - 2.0 * cross)
                    mass, e2 = pp + nn_, ep * ep + en * en
                down = 2.0 * (mass @ (e2 @ down_sq.T))
                hp[:, :r] += down
                hn[:, :r] += down
                for present, w_, acc, same, other in (
                    (present_p, wp, removal_p, ap, an),
                    (present_n, wn, removal_n, an, ap),
                ):
                    self._removal(block, p, n, residual, present, w_, acc, same, other)
        for present, w_, g_, h_, acc in (
            (present_p, wp, gp, hp, removal_p),
            (present_n, wn, gn, hn, removal_n),
        ):
            if len(present[0]):
                v = w_[present]
                secant = 2.0 * (acc[present] + g_[present] * v) / (v * v)
                concave = secant <= _MIN_CURVATURE
                g_[present] = torch.where(concave, -acc[present] / v, g_[present])
                h_[present] = secant
            h_.clamp_(min=_MIN_CURVATURE)
        return total, gp, gn, hp, hn

    def _walk_mean(self, wp: torch.Tensor, wn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean over m = 0..k of the signed walk counts of length m from each row gene.

        Row j approximates how a unit change of an entry (c, j) spreads from j; with the
        reach of c it gives the sensitivity of the downstream columns (exact when c = g).
        """
        r = self.r
        state_p = torch.eye(r, dtype=wp.dtype)
        state_n = torch.zeros_like(state_p)
        sum_p, sum_n = torch.zeros_like(state_p), torch.zeros_like(state_p)
        lead_p, lead_n = torch.zeros_like(state_p), torch.zeros_like(state_p)
        wp_in, wn_in = wp[:, :r], wn[:, :r]
        for m in range(self.k + 1):
            sum_p, sum_n = sum_p + state_p, sum_n + state_n
            lead_p = lead_p + (self.k - m) * state_p
            lead_n = lead_n + (self.k - m) * state_n
            state_p, state_n = (
                state_p @ wp_in + state_n @ wn_in,
                state_p @ wn_in + state_n @ wp_in,
            )
        out_p, out_n = _exit(lead_p, lead_n, wp[:, r:], wn[:, r:])
        scale = 1.0 / (self.k + 1)
        return torch.cat([sum_p, out_p], dim=1) * scale, torch.cat([sum_n, out_n], dim=1) * scale

    def _removal(
        self,
        block: _Block,
        p: torch.Tensor,
        n: torch.Tensor,
        residual: torch.Tensor,
        present: tuple[torch.Tensor, torch.Tensor],
        w: torch.Tensor,
        acc: torch.Tensor,
        same: torch.Tensor,
        other: torch.Tensor,
    ) -> None:
        """Add to `acc` the change of f_j when each present entry alone is set to 0.

        Only the entry's own target column is updated (a regulator target's downstream
        change is left to the line search).
        """
        rows_, cols_ = present
        for start in range(0, len(rows_), _SECANT_CHUNK):
            c = rows_[start : start + _SECANT_CHUNK]
            j = cols_[start : start + _SECANT_CHUNK]
            v = w[c, j]
            p0, n0 = p[:, j], n[:, j]
            p1, n1 = p0 - v * same[:, c], n0 - v * other[:, c]
            change = torch.sparse.mm(
                block.x,
                _prediction(p1, n1, self.tk, self.relaxation)
                - _prediction(p0, n0, self.tk, self.relaxation),
            )
            before = residual[:, j]
            acc[c, j] += ((before + change) ** 2 - before**2).sum(dim=0)

    def edge_support(
        self, wp: torch.Tensor, wn: torch.Tensor, rows_: np.ndarray, cols_: np.ndarray, sign: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Support of entries (rows_, cols_) of R̄+ (sign 1) or R̄- (sign -1) in the data term.

        support = f_j(entry at 0) - f_j(entry at 1), the other entries as in (wp, wn), on the
        entry's own target column j (as in the removal secant): positive where the data
        favour the edge, negative where they contradict it, 0 where no input reaches its
        regulator. Also returns the number of inputs that reach the regulator (walks of
        length 0..k), i.e. that can test the edge.
        """
        c = torch.as_tensor(rows_, dtype=torch.long)
        j = torch.as_tensor(cols_, dtype=torch.long)
        support = torch.zeros(len(c), dtype=torch.float64)
        reaching = torch.zeros(len(c), dtype=torch.long)
        w = wp if sign == 1 else wn
        for block in self.blocks:
            with torch.no_grad():
                p, n, ap, an = self.propagate(wp, wn, block.basis)
                same, other = (ap, an) if sign == 1 else (an, ap)
                hit = torch.sparse.mm(block.x * block.x, ((ap + an) > 0).to(p.dtype))
                for start in range(0, len(c), _SECANT_CHUNK):
                    cc, jj = c[start : start + _SECANT_CHUNK], j[start : start + _SECANT_CHUNK]
                    v = w[cc, jj]
                    p0, n0 = p[:, jj], n[:, jj]
                    residual = (
                        torch.sparse.mm(block.x, _prediction(p0, n0, self.tk, self.relaxation))
                        - block.y[:, jj]
                    )
                    errors = []
                    for value in (0.0, 1.0):
                        change = torch.sparse.mm(
                            block.x,
                            _prediction(
                                p0 + (value - v) * same[:, cc],
                                n0 + (value - v) * other[:, cc],
                                self.tk,
                                self.relaxation,
                            )
                            - _prediction(p0, n0, self.tk, self.relaxation),
                        )
                        errors.append(((residual + change) ** 2).sum(dim=0).double())
                    support[start : start + len(cc)] += errors[0] - errors[1]
                    reaching[start : start + len(cc)] += (hit[:, cc] > 0).sum(dim=0)
        return support.numpy(), reaching.numpy()

    def _outer_columns(self, wp: torch.Tensor, wn: torch.Tensor) -> torch.Tensor:
        """f_j of the columns outside `rows`, reusing the reach of the last evaluation."""
        r = self.r
        total = torch.zeros(wp.shape[1] - r, dtype=torch.float64)
        for block, (ap, an) in zip(self.blocks, self._cache.reach, strict=True):
            with torch.no_grad():
                p, n = _exit(ap, an, wp[:, r:], wn[:, r:])
                pred = _prediction(p, n, self.tk, self.relaxation)
                residual = torch.sparse.mm(block.x, pred) - block.y[:, r:]
                total += (residual**2).sum(dim=0).double()
        return total

    def to_dense(self, w: torch.Tensor, n: int) -> torch.Tensor:
        """Scatter a `rows x layout` tensor into an n x n gene x gene tensor (for checks)."""
        out = torch.zeros((n, n), dtype=w.dtype)
        rows = torch.as_tensor(self.rows, dtype=torch.long)
        out[rows[:, None], torch.as_tensor(self.layout, dtype=torch.long)[None, :]] = w
        return out


def _exit(
    reach_p: torch.Tensor, reach_n: torch.Tensor, wp_out: torch.Tensor, wn_out: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    return reach_p @ wp_out + reach_n @ wn_out, reach_p @ wn_out + reach_n @ wp_out


def _present(w: torch.Tensor, *, diagonal: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of positive entries; the fixed self-activation (i, i) is left out of R̄+."""
    rows_, cols_ = (w > 0).nonzero(as_tuple=True)
    if not diagonal:
        keep = rows_ != cols_
        rows_, cols_ = rows_[keep], cols_[keep]
    return rows_, cols_


def _check_inputs(X: object, Y_bar: object, n: int) -> tuple[sp.csr_matrix, np.ndarray]:
    x = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
    y = Y_bar.toarray() if sp.issparse(Y_bar) else np.asarray(Y_bar)
    for name, values in (("X", x), ("Y_bar", y)):
        if values.ndim != 2:
            raise InputError(f"{name} must be 2-D (inputs x genes), got {values.ndim}-D")
        if values.shape[1] != n:
            raise InputError(
                f"{name} has {values.shape[1]} columns but the knowledge base has {n} genes"
            )
    if x.shape[0] != y.shape[0]:
        raise InputError(f"X has {x.shape[0]} rows (inputs) but Y_bar has {y.shape[0]}")
    xs = sp.csr_matrix(x)
    for name, data in (("X", xs.data), ("Y_bar", y.ravel())):
        if data.dtype.kind not in "iuf":
            raise InputError(f"{name} must be numeric with values in {{-1, 0, 1}}")
        bad = np.flatnonzero(~np.isin(data, (-1, 0, 1)))
        if len(bad):
            raise InputError(f"{name} values must be in {{-1, 0, 1}}, got {data[bad[0]]!r}")
    xs = sp.csr_matrix(xs, dtype=np.float64)
    xs.eliminate_zeros()
    xs.sort_indices()
    return xs, y


def _blocks(
    xs: sp.csr_matrix,
    y: np.ndarray,
    position: np.ndarray,
    layout: np.ndarray,
    limit: int,
    dtype: torch.dtype,
) -> list[_Block]:
    """Group inputs (in order of their first perturbed gene) into blocks of <= `limit` genes."""
    m = xs.shape[0]
    first = np.full(m, -1, dtype=np.int64)
    nonempty = np.diff(xs.indptr) > 0
    first[nonempty] = xs.indices[xs.indptr[:-1][nonempty]]
    groups: list[tuple[list[int], set[int]]] = []
    members: list[int] = []
    genes: set[int] = set()
    for i in np.lexsort((np.arange(m), first)):
        own = set(xs.indices[xs.indptr[i] : xs.indptr[i + 1]].tolist())
        if members and len(genes | own) > limit:
            groups.append((members, genes))
            members, genes = [], set()
        members.append(int(i))
        genes |= own
    if members:
        groups.append((members, genes))
    out = []
    for members, gene_set in groups:
        cols = np.asarray(sorted(gene_set), dtype=np.intp)
        x_block = xs[members][:, cols].tocoo()
        x_tensor = torch.sparse_coo_tensor(
            np.vstack([x_block.row, x_block.col]),
            x_block.data,
            size=x_block.shape,
            dtype=dtype,
            check_invariants=True,
        ).coalesce()
        out.append(
            _Block(
                basis=torch.as_tensor(position[cols], dtype=torch.long),
                x=x_tensor,
                y=torch.as_tensor(y[members][:, layout], dtype=dtype),
                weight=torch.as_tensor(
                    np.asarray(x_block.power(2).sum(axis=0)).ravel(), dtype=dtype
                ),
            )
        )
    return out


def refine(
    kb: KnowledgeBase,
    X: np.ndarray | sp.spmatrix,
    Y_bar: np.ndarray | sp.spmatrix,
    options: RefineOptions | None = None,
    *,
    k: int,
    seed: int = 0,
    logger: logging.Logger | None = None,
) -> RefineResult:
    """Refine the KB on (X, Ȳ) by minimising Eq. 6 with proximal gradient; threshold to a KB.

    Parameters
    ----------
    kb
        The KB to refine (n genes).
    X, Y_bar
        Inputs and aligned predictions ȳ, (m, n), dense or scipy sparse, in {-1, 0, 1}.
    options
        `RefineOptions`; None takes the defaults.
    k
        Closure depth of Eq. 1.
    seed
        Recorded only: the optimisation is deterministic.
    logger
        Receives one line per iteration.

    Returns
    -------
    RefineResult
        The refined KB (an entry is an edge when its raw value R̄ exceeds
        ``options.threshold``; a pair that ends with both signs keeps both), its signed
        edge table (status kept, added or removed against ``kb``; score = R̄; support and
        inputs_reaching of `RefineProblem.edge_support`), a summary with edge counts by
        status and sign and kept edges by support, the objective per iteration (index 0
        is the start), iterations and seconds.
    """
    options = options or RefineOptions()
    _check_k(k)
    t0, tk, lam = options.t0, options.tk, options.lam
    penalty, prox, relaxation = options.penalty, options.prox, options.relaxation
    step, max_iter, tol = options.step, options.max_iter, options.tol
    threshold, batch_size, dtype = options.threshold, options.batch_size, options.dtype
    with torch_threads(options.num_threads):
        started = time.perf_counter()
        tk_value = 1.0 / (k + 1) if tk is None else float(tk)
        problem = RefineProblem(
            kb,
            X,
            Y_bar,
            k=k,
            tk=tk_value,
            relaxation=relaxation,
            batch_size=batch_size,
            dtype=dtype,
        )
        lam = LAM_PER_INPUT * problem.n_inputs if lam is None else float(lam)
        r, r_pos, r_neg = problem.r, problem.r_pos, problem.r_neg
        n_cols = r_pos.shape[1]
        diag = (torch.arange(r), torch.arange(r))

        def penalty_entries(d: torch.Tensor) -> torch.Tensor:
            d = d.double()
            if penalty == "frobenius":
                return lam * d * d
            if prox == "soft":
                return lam * d.abs()
            return lam * relax(d.abs(), t0)

        def penalty_total(wp: torch.Tensor, wn: torch.Tensor) -> float:
            off = torch.ones(wp.shape, dtype=torch.bool)
            off[diag] = False
            return float(
                penalty_entries((wp - r_pos)[off]).sum() + penalty_entries(wn - r_neg).sum()
            )

        def proximal(v: torch.Tensor, a: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
            if penalty == "frobenius":
                return prox_frobenius(v, a, lower)
            if prox == "soft":
                return prox_soft(v, a, lower)
            return prox_eps(v, a, t0, lower)

        wp, wn = r_pos.clone(), r_neg.clone()
        fcol, gp, gn, hp, hn = problem._evaluate(wp, wn)
        objective = float(fcol.sum()) + penalty_total(wp, wn)
        losses = [objective]
        scale = torch.full((n_cols,), float(step), dtype=torch.float64)
        groups = [g for g in (torch.arange(r, n_cols), torch.arange(r)) if len(g)]
        converged = False
        iterations = 0
        for iterations in range(1, max_iter + 1):
            gp[diag] = 0.0
            cols = groups[(iterations - 1) % len(groups)]
            outer = int(cols[0]) >= r
            new_p, new_n = _step(
                problem, wp, wn, gp, gn, hp, hn, fcol, cols, outer, scale, proximal, lam
            )
            if new_p is not wp:
                cached = problem._cache.reach
                evaluated = problem._evaluate(new_p, new_n)
                new_objective = float(evaluated[0].sum()) + penalty_total(new_p, new_n)
                if new_objective <= objective + 1e-9 * max(1.0, abs(objective)):
                    wp, wn = new_p, new_n
                    fcol, gp, gn, hp, hn = evaluated
                    objective = new_objective
                else:
                    problem._cache.reach = cached
                    scale[cols] *= 0.25
            losses.append(objective)
            if logger is not None:
                logger.info(
                    "refine iteration %d (%s columns): objective %.6g",
                    iterations,
                    "other" if outer else "regulator",
                    objective,
                )
            cycle = len(groups)
            if iterations >= cycle:
                before = losses[-1 - cycle]
                if (before - objective) <= tol * max(1.0, abs(before)):
                    converged = True
                    break

        table_started = time.perf_counter()
        edges = _edge_table(kb, problem, wp, wn, threshold)
        summary: dict[str, int | float | bool | str] = _summary(edges)
        summary.update(
            {
                "edge_table_seconds": time.perf_counter() - table_started,
                "rows": r,
                "inputs": int(problem.n_inputs),
                "perturbed_genes": int(len(problem.perturbed)),
                "objective_start": losses[0],
                "objective_end": losses[-1],
                "converged": converged,
                "relaxation": relaxation,
                "tk": tk_value,
                "lam": lam,
                "seed": seed,
            }
        )
        return RefineResult(
            kb=_refined_kb(kb, edges),
            edges=edges,
            summary=summary,
            loss=losses,
            iterations=iterations,
            seconds=time.perf_counter() - started,
            converged=converged,
        )


def _step(
    problem: RefineProblem,
    wp: torch.Tensor,
    wn: torch.Tensor,
    gp: torch.Tensor,
    gn: torch.Tensor,
    hp: torch.Tensor,
    hn: torch.Tensor,
    fcol: torch.Tensor,
    cols: torch.Tensor,
    outer: bool,
    scale: torch.Tensor,
    proximal: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One proximal-gradient step on the columns `cols` with backtracking per column.

    A column is accepted when f_j(z) <= f_j(w) + <∇f_j, z - w> + Σ (z - w)²/(2η). Columns
    outside `rows` are independent given the regulator block; for regulator columns the
    sum of the conditions must also hold for the total f, else all their steps halve.
    """
    r = problem.r
    new_p, new_n = wp.clone(), wn.clone()
    model = fcol[cols].clone()
    pending = torch.ones(len(cols), dtype=torch.bool)
    for _ in range(_MAX_BACKTRACKS if outer else _MAX_BACKTRACKS_REGULATORS):
        idx = pending.nonzero().squeeze(1)
        sel = cols[idx]
        sigma = scale[sel].to(wp.dtype)
        eta_p, eta_n = sigma / hp[:, sel], sigma / hn[:, sel]
        ref_p, ref_n = problem.r_pos[:, sel], problem.r_neg[:, sel]
        zp = ref_p + proximal(wp[:, sel] - eta_p * gp[:, sel] - ref_p, eta_p * lam, -ref_p)
        zn = ref_n + proximal(wn[:, sel] - eta_n * gn[:, sel] - ref_n, eta_n * lam, -ref_n)
        zp = torch.where(zp.abs() < _TINY, 0.0, zp)
        zn = torch.where(zn.abs() < _TINY, 0.0, zn)
        if not outer:
            zp[sel, torch.arange(len(sel))] = 1.0
        new_p[:, sel], new_n[:, sel] = zp, zn
        dp, dn = (zp - wp[:, sel]).double(), (zn - wn[:, sel]).double()
        model[idx] = (
            fcol[sel]
            + (gp[:, sel].double() * dp + dp * dp / (2 * eta_p.double())).sum(0)
            + (gn[:, sel].double() * dn + dn * dn / (2 * eta_n.double())).sum(0)
        )
        slack = 1e-6 * torch.clamp(fcol[sel].abs(), min=1.0)
        if outer:
            trial = problem._outer_columns(new_p, new_n)[sel - r]
            bad = trial > model[idx] + slack
        else:
            trial_all, _, _ = problem.data_term(new_p, new_n, grad=False)
            bad = trial_all[sel] > model[idx] + slack
            budget = float(fcol.sum() - fcol[cols].sum() + model.sum())
            if not bool(bad.any()) and float(trial_all.sum()) > budget + float(slack.sum()):
                scale[cols] *= 0.5
                new_p[:, cols], new_n[:, cols] = wp[:, cols], wn[:, cols]
                model = fcol[cols].clone()
                pending[:] = True
                continue
        scale[sel[bad]] *= 0.5
        if not bool(bad.any()):
            scale[cols] *= _GROWTH
            return new_p, new_n
        pending[idx[~bad]] = False
    sel = cols[pending]
    new_p[:, sel], new_n[:, sel] = wp[:, sel], wn[:, sel]
    return new_p, new_n


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_k(k: object) -> None:
    if not _is_int(k) or k < 0:
        raise InputError(f"k must be a non-negative integer, got {k!r}")


@dataclass(frozen=True)
class RefineOptions:
    """Options of the refinement of Eq. 6, checked once when made.

    ``tk=None`` means 1/(k+1); ``lam=None`` means `LAM_PER_INPUT` per input. ``step`` is
    the initial step scale relative to the curvature (1 is a Newton step).
    ``num_threads`` sets torch's CPU threads while refining (None: unchanged).
    """

    t0: float = 100.0
    tk: float | None = 1.0
    lam: float | None = None
    penalty: Penalty = "l1"
    prox: Prox = "exact"
    relaxation: Relaxation = "difference"
    step: float = 1.0
    max_iter: int = 60
    tol: float = 1e-4
    threshold: float = 0.5
    batch_size: int | None = None
    num_threads: int | None = 1
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        for name in ("t0", "tk", "step"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"{name} must be positive, got {value!r}")
        for name in ("lam", "tol", "threshold"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise InputError(f"{name} must be non-negative, got {value!r}")
        for name, allowed in (
            ("penalty", ("l1", "frobenius")),
            ("prox", ("exact", "soft")),
            ("relaxation", ("separate", "difference")),
        ):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not _is_int(self.max_iter) or self.max_iter < 0:
            raise InputError(f"max_iter must be a non-negative integer, got {self.max_iter!r}")
        for name in ("batch_size", "num_threads"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if self.dtype not in (torch.float32, torch.float64):
            raise InputError(f"dtype must be torch.float32 or torch.float64, got {self.dtype!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RefineOptions:
        """Options from the ``refinement`` parameters; ``rounds`` (the pipeline's shape)
        is not an option of one refinement and is passed over. An unknown key is refused
        naming it."""
        known = {f.name for f in fields(cls)} - {"dtype"}
        unknown = sorted(set(params) - known - {"rounds"})
        if unknown:
            raise InputError(
                f"unknown refinement option(s) {unknown}; expected some of {sorted(known)}",
                source="parameters",
                column=f"refinement.{unknown[0]}",
            )
        return cls(**{name: value for name, value in params.items() if name in known})


def _edge_table(
    kb: KnowledgeBase,
    problem: RefineProblem,
    wp: torch.Tensor,
    wn: torch.Tensor,
    threshold: float,
) -> pd.DataFrame:
    """Signed edges present before or after refinement: score R̄, status, and the data's
    support with the number of inputs that test it (`RefineProblem.edge_support`)."""
    names = np.asarray(kb.genes, dtype=object)
    rows, layout, r = problem.rows, problem.layout, problem.r
    frames = []
    for sign, w, ref in ((1, wp, problem.r_pos), (-1, wn, problem.r_neg)):
        values = w.double().numpy()
        before = ref.numpy() > 0
        after = values > threshold
        if sign == 1:
            before[np.arange(r), np.arange(r)] = False
            after[np.arange(r), np.arange(r)] = False
        i, j = np.nonzero(before | after)
        was, now = before[i, j], after[i, j]
        support, reaching = problem.edge_support(wp, wn, i, j, sign)
        frames.append(
            pd.DataFrame(
                {
                    "regulator": names[rows[i]],
                    "target": names[layout[j]],
                    "sign": np.full(len(i), sign, dtype=np.int64),
                    "score": values[i, j],
                    "status": np.where(was & now, "kept", np.where(now, "added", "removed")),
                    "support": support,
                    "inputs_reaching": reaching.astype(np.int64),
                }
            )
        )
    table = kb.edges()
    self_pos = table[(table["regulator"] == table["target"]) & (table["sign"] == 1)]
    if len(self_pos):
        frames.append(
            self_pos.assign(score=1.0, status="kept", support=np.nan, inputs_reaching=pd.NA)
        )
    out = pd.concat(frames, ignore_index=True).loc[:, list(REFINED_EDGE_COLUMNS)]
    out["inputs_reaching"] = out["inputs_reaching"].astype("Int64")
    return out.sort_values(["regulator", "target", "sign"], ignore_index=True)


def _refined_kb(kb: KnowledgeBase, edges: pd.DataFrame) -> KnowledgeBase:
    present = edges.loc[edges["status"] != "removed", ["regulator", "target", "sign"]]
    return compile_kb(present, kb.genes, conflict="both", source="refined edges")


def _summary(edges: pd.DataFrame) -> dict[str, int | float | bool | str]:
    """Edge counts by status and sign; kept edges also by the sign of their support, and
    those no input tests (a subset of support 0)."""
    out: dict[str, int | float | bool | str] = {}
    for status in ("kept", "added", "removed"):
        chosen = edges["status"] == status
        out[f"edges_{status}"] = int(chosen.sum())
        out[f"edges_{status}_pos"] = int((chosen & (edges["sign"] == 1)).sum())
        out[f"edges_{status}_neg"] = int((chosen & (edges["sign"] == -1)).sum())
    out.update({f"edges_kept_{name}": n for name, n in kept_by_support(edges).items()})
    return out


def kept_by_support(edges: pd.DataFrame) -> dict[str, int]:
    """Kept off-diagonal edges of a refined edge table by the sign of their support, and
    those no input tests (a subset of support 0)."""
    kept = edges[(edges["status"] == "kept") & (edges["regulator"] != edges["target"])]
    return {
        "supported": int((kept["support"] > 0).sum()),
        "contradicted": int((kept["support"] < 0).sum()),
        "no_evidence": int((kept["support"] == 0).sum()),
        "untested": int((kept["inputs_reaching"] == 0).sum()),
    }
