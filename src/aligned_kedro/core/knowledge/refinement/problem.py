"""The data term of Eq. 6 on regulator rows: values per column, gradients, curvature, support.

The parameters are non-negative real matrices R̄+(0), R̄-(0) initialised from the KB's
0/1 matrices; the self-activation diagonal of R̄+(0) (appendix B.2) is not a regulatory
edge and stays at 1. The data term f is the sum over inputs (x, ȳ) of ||prediction - ȳ||²
(`relaxation.predict`), f_j its part on target column j.

Only regulators have outgoing edges and only closure rows of perturbed genes enter the
prediction, so parameters are `rows x n` dense tensors, rows = KB regulators ∪ perturbed
genes. One basis row per distinct perturbed gene is propagated k+1 times through the
`rows x rows` block, and walks that leave it are collected by one product through the
`rows x (n - rows)` block (`walks.signed_walks`). Inputs are processed in blocks of at
most `batch_size` distinct perturbed genes, so memory stays bounded; nothing n x n is
built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from aligned_kedro.core.knowledge.kb import KnowledgeBase
from aligned_kedro.core.knowledge.refinement.inputs import (
    KINDS,
    InputBlock,
    Kind,
    check_inputs,
    input_blocks,
)
from aligned_kedro.core.knowledge.refinement.relaxation import (
    EXP_LIMIT,
    Relaxation,
    predict,
    predict_difference,
)
from aligned_kedro.core.knowledge.walks import leave, real_walks, signed_walks

_BLOCK_ELEMENTS = 4 * 2**20
_SECANT_CHUNK = 4096
MIN_CURVATURE = 1e-3

Pair = tuple[torch.Tensor, torch.Tensor]
Reach = torch.Tensor | Pair


@dataclass(frozen=True)
class Evaluation:
    """The data term of Eq. 6 at one point (R̄+, R̄-), with all that a proximal step needs.

    Attributes
    ----------
    wp, wn : torch.Tensor, (r, n)
        The point, in the problem's layout.
    f : torch.Tensor, (n,) float64
        f_j per target column.
    gp, gn : torch.Tensor, (r, n)
        ∇f, 0 on the fixed self-activation; for a present entry along whose removal f is
        concave, the chord slope of the removal instead.
    hp, hn : torch.Tensor, (r, n)
        Diagonal curvature of f, at least `MIN_CURVATURE`.
    reach : tuple
        Per input block, the reach of its basis (B, r) at this point: a (+, -) pair, or
        for ``relaxation="difference"`` the reach through R̄+ - R̄- alone (their
        difference); it depends on the regulator columns only
        (`RefineProblem.outer_columns`).
    present : tuple of (rows, columns) pairs, or None
        For R̄+ and R̄-, the present entries whose removal secant was computed (R̄+ without
        the fixed self-activation), in row-major order.
    removal : tuple of torch.Tensor, or None
        For R̄+ and R̄-, the change of f_j when each present entry alone is set to 0.
    """

    wp: torch.Tensor
    wn: torch.Tensor
    f: torch.Tensor
    gp: torch.Tensor
    gn: torch.Tensor
    hp: torch.Tensor
    hn: torch.Tensor
    reach: tuple[Reach, ...]
    present: tuple[Pair, Pair] | None = None
    removal: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def total(self) -> float:
        """f, the data term summed over columns."""
        return float(self.f.sum())


@dataclass(frozen=True)
class EdgeEvidence:
    """What the inputs say about a set of entries (`RefineProblem.edge_support`).

    Attributes
    ----------
    support : dict of numpy.ndarray, (E,) float64
        By kind of input (observed, predicted): f_j(entry at 0) - f_j(entry at 1).
    reaching : dict of numpy.ndarray, (E,) int64
        By kind: the inputs that reach the entry's regulator and measured its target.
    drivers : numpy.ndarray, (E, top) float64
        The largest contributions of single inputs to the support, by absolute value.
    driver_rows : numpy.ndarray, (E, top) int64
        Their rows of X.
    """

    support: dict[str, np.ndarray]
    reaching: dict[str, np.ndarray]
    drivers: np.ndarray
    driver_rows: np.ndarray


class RefineProblem:
    """Row-restricted data term of Eq. 6 in the column layout [rows | other genes].

    Parameters
    ----------
    kb
        The KB to refine, n genes.
    X, Y_bar
        Inputs and aligned predictions ȳ, (m, n), dense or scipy sparse, in {-1, 0, 1}.
    k
        Closure depth of Eq. 1.
    tk
        Sharpness of ε in the prediction.
    relaxation
        "difference" or "separate" (`relaxation.predict`).
    batch_size
        Most distinct perturbed genes per input block (default: about 4M elements).
    dtype
        torch.float32 (ε saturates, so walk counts need only relative precision, and the
        products run about twice as fast) or torch.float64.

    Attributes
    ----------
    rows : numpy.ndarray, (r,)
        KB regulators ∪ genes perturbed in X: the parameter rows.
    layout : numpy.ndarray, (n,)
        Gene of each parameter column; the first r columns are `rows`, so the fixed
        self-activation sits at (i, i).
    r_pos, r_neg : torch.Tensor, (r, n)
        R±(0) on those rows and columns.
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
        observed: np.ndarray | None = None,
        measured: np.ndarray | None = None,
        min_called: int = 0,
        fit: tuple[Kind, ...] = KINDS,
    ) -> None:
        n = kb.n_genes
        self.inputs = check_inputs(
            X, Y_bar, kb.genes, observed=observed, measured=measured, min_called=min_called
        )
        xs = self.inputs.x
        self.perturbed = np.flatnonzero(np.diff(xs.tocsc().indptr))
        self.rows = np.union1d(kb.regulators, self.perturbed).astype(np.intp)
        self.r = len(self.rows)
        others = np.setdiff1d(np.arange(n, dtype=np.intp), self.rows, assume_unique=True)
        self.layout = np.concatenate([self.rows, others])
        self.k, self.tk, self.relaxation, self.dtype = k, float(tk), relaxation, dtype
        position = np.full(n, -1, dtype=np.intp)
        position[self.rows] = np.arange(self.r)
        limit = batch_size or max(1, _BLOCK_ELEMENTS // max(n, 1))
        self.evidence = {
            kind: input_blocks(self.inputs, kind, position, self.layout, limit, dtype)
            for kind in KINDS
        }
        self.fit = tuple(kind for kind in KINDS if kind in fit)
        self.blocks = [block for kind in self.fit for block in self.evidence[kind]]
        self.n_inputs = sum(len(self.inputs.rows_of(kind)) for kind in self.fit)
        self.r_pos = torch.as_tensor(kb.r_pos[self.rows][:, self.layout].toarray(), dtype=dtype)
        self.r_neg = torch.as_tensor(kb.r_neg[self.rows][:, self.layout].toarray(), dtype=dtype)

    def propagate(
        self, wp: torch.Tensor, wn: torch.Tensor, basis: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows of R̄+(k), R̄-(k) for the basis genes (Eq. 1, real arithmetic) and their reach.

        Parameters
        ----------
        wp, wn
            R̄+(0), R̄-(0), (r, n).
        basis
            Row positions of the propagated genes, (B,).

        Returns
        -------
        tuple of torch.Tensor
            R̄+(k) and R̄-(k) rows (B, n), and the reach (+, -) (B, r): the sum of the
            states before each of the k+1 steps.
        """
        r, b = self.r, len(basis)
        start = torch.zeros((b, r), dtype=wp.dtype)
        start[torch.arange(b), basis] = 1.0
        walks = signed_walks((start, torch.zeros_like(start)), (wp[:, :r], wn[:, :r]), self.k)
        p_out, n_out = leave(walks.reach, (wp[:, r:], wn[:, r:]))
        (p_in, n_in), (reach_p, reach_n) = walks.last, walks.reach
        return torch.cat([p_in, p_out], dim=1), torch.cat([n_in, n_out], dim=1), reach_p, reach_n

    def data_term(
        self, wp: torch.Tensor, wn: torch.Tensor, *, grad: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """f_j of Eq. 6 per column, (n,) float64, and if asked ∇f on R̄+, R̄- (r, n)."""
        if self.relaxation == "difference":
            return self._difference_term(wp, wn, grad=grad)
        return self._signed_term(wp, wn, grad=grad)

    def _signed_term(
        self, wp: torch.Tensor, wn: torch.Tensor, *, grad: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """`data_term` through the signed closures R̄+(k), R̄-(k), for either relaxation."""
        total = torch.zeros(wp.shape[1], dtype=torch.float64)
        gp = torch.zeros_like(wp) if grad else None
        gn = torch.zeros_like(wn) if grad else None
        for block in self.blocks:
            with torch.set_grad_enabled(grad):
                p_in = wp.detach().requires_grad_(grad)
                n_in = wn.detach().requires_grad_(grad)
                p, n, _, _ = self.propagate(p_in, n_in, block.basis)
                pred = predict(p, n, self.tk, self.relaxation)
                # Eq. 6: Σ_x ||prediction - ȳ||², per column
                per_column = (block.residual(pred) ** 2).sum(dim=0)
                if grad:
                    dp, dn = torch.autograd.grad(per_column.sum(), (p_in, n_in))
                    gp += dp
                    gn += dn
            total += per_column.detach().double() + block.spread
        return total, gp, gn

    def evaluate(
        self, wp: torch.Tensor, wn: torch.Tensor, like: Evaluation | None = None
    ) -> Evaluation:
        """f_j, ∇f and the diagonal curvature at (R̄+, R̄-), each (r, n) but f (n,).

        For absent entries the curvature h_e is the Gauss-Newton diagonal (`_gauss_newton`).
        For present entries it is the secant through the exact change of f when the entry
        alone is removed (`_removal`), so that removing an edge whose effect ε has
        saturated is judged by its true effect; where f is concave along that line, the
        gradient becomes the chord slope -Δf/R̄ with the minimal curvature: the quadratic
        model is then exact at the removal, and the prox removes the entry exactly when
        the removal lowers f by more than the penalty it costs.

        `like`, an earlier evaluation, serves the removal secants of the columns where
        neither point changed, when no regulator column changed (they depend only on
        their own column given the regulator block); ``relaxation="difference"`` only.
        """
        if self.relaxation == "difference":
            return self._evaluate_difference(wp, wn, like)
        return self._evaluate_signed(wp, wn)

    def _evaluate_signed(self, wp: torch.Tensor, wn: torch.Tensor) -> Evaluation:
        """`evaluate` through the signed closures R̄+(k), R̄-(k), for either relaxation."""
        total = torch.zeros(wp.shape[1], dtype=torch.float64)
        gp, gn = torch.zeros_like(wp), torch.zeros_like(wn)
        hp, hn = torch.zeros_like(wp), torch.zeros_like(wn)
        present_p = _present(wp, diagonal=False)
        present_n = _present(wn, diagonal=True)
        removal_p = torch.zeros(len(present_p[0]), dtype=wp.dtype)
        removal_n = torch.zeros(len(present_n[0]), dtype=wn.dtype)
        down_sq = self._downstream(wp, wn)
        reach: list[Reach] = []
        for block in self.blocks:
            p_in = wp.detach().requires_grad_(True)
            n_in = wn.detach().requires_grad_(True)
            p, n, reach_p, reach_n = self.propagate(p_in, n_in, block.basis)
            pred = predict(p, n, self.tk, self.relaxation)
            residual = block.residual(pred)
            per_column = (residual**2).sum(dim=0)
            dp, dn = torch.autograd.grad(per_column.sum(), (p_in, n_in))
            gp += dp
            gn += dn
            total += per_column.detach().double() + block.spread
            with torch.no_grad():
                p, n, residual = p.detach(), n.detach(), residual.detach()
                ap, an = reach_p.detach(), reach_n.detach()
                reach.append((ap, an))
                pred = pred.detach()
                self._gauss_newton(block, p, n, ap, an, down_sq, hp, hn)
                for present, w_, acc, same, other in (
                    (present_p, wp, removal_p, ap, an),
                    (present_n, wn, removal_n, an, ap),
                ):
                    self._removal(block, p, n, pred, residual, present, w_, acc, same, other)
        for present, w_, g_, h_, acc in (
            (present_p, wp, gp, hp, removal_p),
            (present_n, wn, gn, hn, removal_n),
        ):
            _secant(present, w_, g_, h_, acc)
        gp[torch.arange(self.r), torch.arange(self.r)] = 0.0
        return Evaluation(wp, wn, total, gp, gn, hp, hn, tuple(reach))

    def _difference_term(
        self, wp: torch.Tensor, wn: torch.Tensor, *, grad: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """`data_term` for ``relaxation="difference"``: the prediction depends on R̄+ - R̄-
        alone, so one closure of the difference serves both signs and ∇f on R̄- is -∇f on
        R̄+."""
        total = torch.zeros(wp.shape[1], dtype=torch.float64)
        a = (wp - wn).requires_grad_(grad)
        g = torch.zeros_like(wp) if grad else None
        for block in self.blocks:
            with torch.set_grad_enabled(grad):
                d, _ = self._difference_rows(a, block.basis)
                # Eq. 6: Σ_x ||prediction - ȳ||², per column
                per_column = (block.residual(predict_difference(d, self.tk)) ** 2).sum(dim=0)
                if grad:
                    g += torch.autograd.grad(per_column.sum(), a)[0]
            total += per_column.detach().double() + block.spread
        return total, g, None if g is None else -g

    def _difference_rows(
        self, a: torch.Tensor, basis: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of R̄+(k) - R̄-(k) for the basis genes (B, n) and their reach (B, r), from
        a = R̄+(0) - R̄-(0) (Eq. 1: the difference of the signed walks is the walks of a)."""
        r, b = self.r, len(basis)
        start = torch.zeros((b, r), dtype=a.dtype)
        start[torch.arange(b), basis] = 1.0
        last, reach, _ = real_walks(start, a[:, :r], self.k)
        return torch.cat([last, reach @ a[:, r:]], dim=1), reach

    def _evaluate_difference(
        self, wp: torch.Tensor, wn: torch.Tensor, like: Evaluation | None
    ) -> Evaluation:
        """`evaluate` for ``relaxation="difference"`` (`_difference_term`): an entry of R̄-
        moves the prediction as the same entry of R̄+ with the opposite sign."""
        total = torch.zeros(wp.shape[1], dtype=torch.float64)
        a = (wp - wn).requires_grad_(True)
        g = torch.zeros_like(wp)
        h = torch.zeros_like(wp)
        present_p = _present(wp, diagonal=False)
        present_n = _present(wn, diagonal=True)
        removal_p, todo_p = self._reused_removal(present_p, wp, wn, like, 0)
        removal_n, todo_n = self._reused_removal(present_n, wp, wn, like, 1)
        solve_p = (present_p[0][todo_p], present_p[1][todo_p])
        solve_n = (present_n[0][todo_n], present_n[1][todo_n])
        found_p = torch.zeros(len(todo_p), dtype=wp.dtype)
        found_n = torch.zeros(len(todo_n), dtype=wn.dtype)
        down_sq = self._downstream(wp, wn)
        reach: list[Reach] = []
        for block in self.blocks:
            d, sums = self._difference_rows(a, block.basis)
            pred = predict_difference(d, self.tk)
            residual = block.residual(pred)
            per_column = (residual**2).sum(dim=0)
            g += torch.autograd.grad(per_column.sum(), a)[0]
            total += per_column.detach().double() + block.spread
            with torch.no_grad():
                d, pred, residual, sums = (
                    d.detach(),
                    pred.detach(),
                    residual.detach(),
                    sums.detach(),
                )
                reach.append(sums)
                e2 = self._slope(block, d) ** 2
                self._add_curvature(block, e2, (block.weight[:, None] * sums**2).T, down_sq, h)
                reached = (sums != 0).any(dim=0)
                for present, w_, acc, along in (
                    (solve_p, wp, found_p, sums),
                    (solve_n, wn, found_n, -sums),
                ):
                    self._removal_difference(
                        block, d, pred, residual, present, w_, acc, along, reached
                    )
        removal_p[todo_p], removal_n[todo_n] = found_p, found_n
        del a, down_sq
        gp, gn, hn = g, -g, h.clone()
        for present, w_, g_, h_, acc in (
            (present_p, wp, gp, h, removal_p),
            (present_n, wn, gn, hn, removal_n),
        ):
            _secant(present, w_, g_, h_, acc)
        gp[torch.arange(self.r), torch.arange(self.r)] = 0.0
        return Evaluation(
            wp,
            wn,
            total,
            gp,
            gn,
            h,
            hn,
            tuple(reach),
            (present_p, present_n),
            (removal_p, removal_n),
        )

    def _reused_removal(
        self,
        present: Pair,
        wp: torch.Tensor,
        wn: torch.Tensor,
        like: Evaluation | None,
        sign: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The removal secants of `present` (one sign) that `like` has (`evaluate`), and
        the positions of those still to compute."""
        rows_, cols_ = present
        removal = torch.zeros(len(rows_), dtype=wp.dtype)
        everything = torch.arange(len(rows_))
        if like is None or like.present is None or like.removal is None:
            return removal, everything
        changed = ((wp != like.wp) | (wn != like.wn)).any(dim=0)
        old_rows, old_cols = like.present[sign]
        if bool(changed[: self.r].any()) or not len(old_rows):
            return removal, everything
        n = wp.shape[1]
        old_keys = old_rows * n + old_cols
        keys = rows_ * n + cols_
        at = torch.searchsorted(old_keys, keys).clamp(max=len(old_keys) - 1)
        kept = ~changed[cols_] & (old_keys[at] == keys)
        removal[kept] = like.removal[sign][at[kept]]
        return removal, (~kept).nonzero().squeeze(1)

    def outer_columns(
        self,
        wp: torch.Tensor,
        wn: torch.Tensor,
        at: Evaluation,
        columns: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """f_j of `columns` (layout positions >= r; None: every column outside `rows`),
        float64, with the reach of `at`.

        Those columns depend only on their own entries given the regulator block, so a
        point that shares `at`'s regulator columns shares its reach, and each column
        costs the same whichever others are asked for.
        """
        r = self.r
        chosen: slice | torch.Tensor = slice(r, None) if columns is None else columns
        total = torch.zeros(wp[:, chosen].shape[1], dtype=torch.float64)
        a = (wp[:, chosen] - wn[:, chosen]) if self.relaxation == "difference" else None
        for block, sums in zip(self.blocks, at.reach, strict=True):
            with torch.no_grad():
                if a is not None and isinstance(sums, torch.Tensor):
                    pred = predict_difference(sums @ a, self.tk)
                else:
                    p, n = leave(sums, (wp[:, chosen], wn[:, chosen]))
                    pred = predict(p, n, self.tk, self.relaxation)
                residual = block.residual(pred, chosen)
                total += (residual**2).sum(dim=0).double() + block.spread[chosen]
        return total

    def edge_support(
        self,
        wp: torch.Tensor,
        wn: torch.Tensor,
        rows_: np.ndarray,
        cols_: np.ndarray,
        sign: int,
        *,
        top: int = 3,
    ) -> EdgeEvidence:
        """Support of entries (rows_, cols_) of R̄+ (sign 1) or R̄- (sign -1), by kind of input.

        support = f_j(entry at 0) - f_j(entry at 1), the other entries as in (wp, wn), on the
        entry's own target column j (as in the removal secant): positive where the inputs
        favour the edge, negative where they contradict it, 0 where no input reaches its
        regulator. It is summed separately over observed and predicted inputs, whether or
        not they are fitted.

        Parameters
        ----------
        wp, wn
            The point, (r, n).
        rows_, cols_
            Entry positions in the layout, (E,) each.
        sign
            1 for entries of R̄+, -1 for R̄-.
        top
            How many driving inputs to keep per entry.

        Returns
        -------
        EdgeEvidence
            Per kind, the support (E,) and the number of inputs that reach each entry's
            regulator by walks of length 0..k and measured its target, i.e. that can test
            it (E,); and the `top` fitted inputs with the largest share of the support.
        """
        c = torch.as_tensor(rows_, dtype=torch.long)
        j = torch.as_tensor(cols_, dtype=torch.long)
        support = {kind: torch.zeros(len(c), dtype=torch.float64) for kind in KINDS}
        reaching = {kind: torch.zeros(len(c), dtype=torch.long) for kind in KINDS}
        best = torch.zeros((len(c), 0), dtype=torch.float64)
        best_rows = torch.zeros((len(c), 0), dtype=torch.long)
        w = wp if sign == 1 else wn
        for kind, blocks in self.evidence.items():
            for block in blocks:
                with torch.no_grad():
                    p, n, ap, an = self.propagate(wp, wn, block.basis)
                    moved_rows = self._moved_rows(p, n, ap, an, sign)
                    hit = torch.sparse.mm(block.x * block.x, ((ap + an) > 0).to(p.dtype)) > 0
                    hit_t = hit.T.contiguous()
                    pred_t = predict(p, n, self.tk, self.relaxation).T.contiguous()
                    y_t = block.y.T.contiguous()
                    rows = torch.as_tensor(block.rows, dtype=torch.long)
                    for start in range(0, len(c), _SECANT_CHUNK):
                        part = slice(start, start + _SECANT_CHUNK)
                        cc, jj = c[part], j[part]
                        pred0 = pred_t[jj]
                        residual = block.masked_t(torch.sparse.mm(block.x, pred0.T).T - y_t[jj], jj)
                        errors = []
                        for value in (0.0, 1.0):
                            moved = moved_rows(cc, jj, (value - w[cc, jj])[:, None])
                            change = block.masked_t(
                                torch.sparse.mm(block.x, (moved - pred0).T).T, jj
                            )
                            errors.append(((residual + change) ** 2).double())
                        share = errors[0] - errors[1]
                        support[kind][part] += share.sum(dim=1)
                        tested = block.masked_t(hit_t[cc].to(p.dtype), jj)
                        reaching[kind][part] += ((tested > 0) * block.count).sum(dim=1)
                        if kind in self.fit:
                            best, best_rows = _top(best, best_rows, share, rows, top, part)
        return EdgeEvidence(
            support={kind: v.numpy() for kind, v in support.items()},
            reaching={kind: v.numpy() for kind, v in reaching.items()},
            drivers=best.numpy(),
            driver_rows=best_rows.numpy(),
        )

    def copies(self) -> np.ndarray:
        """For each row of X, the inputs of its group of equal inputs when it is the group's
        first row (`inputs.distinct_inputs`), else 0, (m,)."""
        out = np.zeros(self.inputs.x.shape[0], dtype=np.int64)
        for blocks in self.evidence.values():
            for block in blocks:
                out[block.rows] = block.count.numpy()
        return out

    def _moved_rows(
        self, p: torch.Tensor, n: torch.Tensor, ap: torch.Tensor, an: torch.Tensor, sign: int
    ) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        """The predictions on columns j, (E, B), when each entry (c, j) of R̄+ (sign 1) or
        R̄- (sign -1) moves by `moved` (E, 1): the closure rows move by `moved` times the
        reach of c on the entry's own sign (`same`) and the opposite one (`other`).
        Columns are gathered from transposed copies, whose rows are contiguous."""
        same, other = (ap, an) if sign == 1 else (an, ap)
        if self.relaxation == "difference":
            d_t, along_t = (p - n).T.contiguous(), (same - other).T.contiguous()

            def difference(c: torch.Tensor, j: torch.Tensor, moved: torch.Tensor) -> torch.Tensor:
                return predict_difference(d_t[j] + moved * along_t[c], self.tk)

            return difference
        p_t, n_t, same_t, other_t = (x.T.contiguous() for x in (p, n, same, other))

        def separate(c: torch.Tensor, j: torch.Tensor, moved: torch.Tensor) -> torch.Tensor:
            return predict(
                p_t[j] + moved * same_t[c], n_t[j] + moved * other_t[c], self.tk, self.relaxation
            )

        return separate

    def observed_rows(self) -> np.ndarray:
        """Rows whose gene an observed input perturbs or was measured to respond in
        (a non-zero label), (r,) bool: the regulators whose own change was observed."""
        rows = self.inputs.rows_of("observed")
        x, y = self.inputs.x[rows], self.inputs.y[rows]
        changed = (np.asarray(abs(x).sum(axis=0)).ravel() > 0) | (
            (y != 0).any(axis=0) & self.inputs.measured
        )
        return changed[self.rows]

    def to_dense(self, w: torch.Tensor, n: int) -> torch.Tensor:
        """Scatter a `rows x layout` tensor into an n x n gene x gene tensor (for checks)."""
        out = torch.zeros((n, n), dtype=w.dtype)
        rows = torch.as_tensor(self.rows, dtype=torch.long)
        out[rows[:, None], torch.as_tensor(self.layout, dtype=torch.long)[None, :]] = w
        return out

    def _downstream(self, wp: torch.Tensor, wn: torch.Tensor) -> torch.Tensor:
        """Squared mean walk counts from each row gene, (r, n), 0 on the diagonal.

        Row j is the mean over m = 0..k of the signed walk counts of length m from j,
        combined as the prediction combines them; it approximates how a unit change of an
        entry (c, j) spreads from j (exact when c = j).

        The prediction combines the signs as R̄+(m) - R̄-(m) ("difference") or, for this
        bound, R̄+(m) + R̄-(m) ("separate"); either is the walks of the single matrix
        R̄+ ∓ R̄- (Eq. 1), so one walk through it replaces the four signed products.
        """
        r, k = self.r, self.k
        with torch.no_grad():
            m = wp - wn if self.relaxation == "difference" else wp + wn
            _, reach, lead = real_walks(torch.eye(r, dtype=wp.dtype), m[:, :r], k, lead=True)
            down_sq = torch.empty_like(m)
            down_sq[:, :r] = reach
            down_sq[:, r:] = lead @ m[:, r:]
            down_sq.mul_(1.0 / (k + 1)).pow_(2)
            down_sq[torch.arange(r), torch.arange(r)] = 0.0
        return down_sq

    def _gauss_newton(
        self,
        block: InputBlock,
        p: torch.Tensor,
        n: torch.Tensor,
        ap: torch.Tensor,
        an: torch.Tensor,
        down_sq: torch.Tensor,
        hp: torch.Tensor,
        hn: torch.Tensor,
    ) -> None:
        """Add one block's Gauss-Newton diagonal to `hp`, `hn`: the squared sensitivity of
        the predictions to each entry, summed over inputs, on the entry's own column and,
        for a regulator target, on the columns it reaches (`_downstream`)."""
        w = block.weight[:, None]
        if self.relaxation == "difference":
            # ∂ε(P - N)/∂R̄(c, j) = ε'·(reach+ - reach-)(c)
            own = torch.zeros_like(hp)
            self._add_curvature(
                block, self._slope(block, p - n) ** 2, (w * (ap - an) ** 2).T, down_sq, own
            )
            hp += own
            hn += own
            return
        ep, en = self._slope(block, p), self._slope(block, n)
        pp, nn_, pn = (w * ap * ap).T, (w * an * an).T, (w * ap * an).T
        cross = pn @ (ep * en)
        hp += 2.0 * (pp @ (ep * ep) + nn_ @ (en * en) - 2.0 * cross)
        hn += 2.0 * (nn_ @ (ep * ep) + pp @ (en * en) - 2.0 * cross)
        down = 2.0 * ((pp + nn_) @ ((ep * ep + en * en) @ down_sq.T))
        hp[:, : self.r] += down
        hn[:, : self.r] += down

    def _slope(self, block: InputBlock, x: torch.Tensor) -> torch.Tensor:
        """ε'_tk(x) = tk·exp(-tk·x) where a response was measured, set to 0 where tk·x >
        EXP_LIMIT / 2: there it is below 1e-17, and its square would be a float32 denormal
        (slow on CPUs) or 0."""
        x = (self.tk * x).abs()
        return block.masked(torch.where(x > EXP_LIMIT / 2, 0.0, self.tk * torch.exp(-x)))

    def _add_curvature(
        self,
        block: InputBlock,
        e2: torch.Tensor,
        mass: torch.Tensor,
        down_sq: torch.Tensor,
        h: torch.Tensor,
    ) -> None:
        """Add to `h` the Gauss-Newton diagonal of one block for ``relaxation="difference"``:
        2·mass @ ε'² on the entry's own column, and through `_downstream` on the columns
        a regulator target reaches."""
        h += 2.0 * (mass @ e2)
        h[:, : self.r] += 2.0 * (mass @ (e2 @ down_sq.T))

    def _removal(
        self,
        block: InputBlock,
        p: torch.Tensor,
        n: torch.Tensor,
        pred: torch.Tensor,
        residual: torch.Tensor,
        present: Pair,
        w: torch.Tensor,
        acc: torch.Tensor,
        same: torch.Tensor,
        other: torch.Tensor,
    ) -> None:
        """Add to `acc` (one value per present entry) the change of f_j when each present
        entry alone is set to 0.

        Only the entry's own target column is updated (a regulator target's downstream
        change is left to the line search).
        """
        rows_, cols_ = present
        for start in range(0, len(rows_), _SECANT_CHUNK):
            c = rows_[start : start + _SECANT_CHUNK]
            j = cols_[start : start + _SECANT_CHUNK]
            p0, n0 = p[:, j], n[:, j]
            change = self._change(block, j, p0, n0, pred[:, j], -w[c, j], same[:, c], other[:, c])
            before = residual[:, j]
            acc[start : start + _SECANT_CHUNK] += ((before + change) ** 2 - before**2).sum(dim=0)

    def _removal_difference(
        self,
        block: InputBlock,
        d: torch.Tensor,
        pred: torch.Tensor,
        residual: torch.Tensor,
        present: Pair,
        w: torch.Tensor,
        acc: torch.Tensor,
        along: torch.Tensor,
        reached: torch.Tensor,
    ) -> None:
        """`_removal` for ``relaxation="difference"``: removing entry (c, j) moves column j
        of R̄+(k) - R̄-(k) by -R̄(c, j) times `along` (the reach of c, negated for R̄-).
        Entries whose regulator the block does not reach change nothing and are passed
        over. Columns are gathered from transposed copies, whose rows are contiguous."""
        rows_, cols_ = present
        keep = reached[rows_].nonzero().squeeze(1)
        rows_, cols_ = rows_[keep], cols_[keep]
        d_t, pred_t, along_t = d.T.contiguous(), pred.T.contiguous(), along.T.contiguous()
        residual_t = residual.T.contiguous()
        for start in range(0, len(rows_), _SECANT_CHUNK):
            c = rows_[start : start + _SECANT_CHUNK]
            j = cols_[start : start + _SECANT_CHUNK]
            moved = predict_difference(d_t[j] - w[c, j][:, None] * along_t[c], self.tk)
            change = block.masked_t(torch.sparse.mm(block.x, (moved - pred_t[j]).T).T, j)
            before = residual_t[j]
            acc[keep[start : start + _SECANT_CHUNK]] += ((before + change) ** 2 - before**2).sum(
                dim=1
            )

    def _change(
        self,
        block: InputBlock,
        columns: torch.Tensor,
        p0: torch.Tensor,
        n0: torch.Tensor,
        pred0: torch.Tensor,
        moved: torch.Tensor,
        same: torch.Tensor,
        other: torch.Tensor,
    ) -> torch.Tensor:
        """Change of the block's predictions on `columns` j, (inputs, E), when each entry
        (c, j) moves by `moved` (E,): the closure rows (B, E) move by `moved` times the
        reach of c, `same` on the entry's own sign and `other` on the opposite one; 0
        where no response was measured."""
        moved_pred = predict(p0 + moved * same, n0 + moved * other, self.tk, self.relaxation)
        return block.masked(torch.sparse.mm(block.x, moved_pred - pred0), columns)


def _secant(
    present: Pair, w: torch.Tensor, g: torch.Tensor, h: torch.Tensor, removal: torch.Tensor
) -> None:
    """Curvature of present entries from the removal secant (`removal`: the change of f
    per present entry); the chord slope where f is concave along the removal; every
    curvature at least `MIN_CURVATURE`."""
    if len(present[0]):
        v = w[present]
        secant = 2.0 * (removal + g[present] * v) / (v * v)
        concave = secant <= MIN_CURVATURE
        g[present] = torch.where(concave, -removal / v, g[present])
        h[present] = secant
    h.clamp_(min=MIN_CURVATURE)


def _present(w: torch.Tensor, *, diagonal: bool) -> Pair:
    """Indices of positive entries; the fixed self-activation (i, i) is left out of R̄+."""
    rows_, cols_ = (w > 0).nonzero(as_tuple=True)
    if not diagonal:
        keep = rows_ != cols_
        rows_, cols_ = rows_[keep], cols_[keep]
    return rows_, cols_


def _top(
    best: torch.Tensor,
    best_rows: torch.Tensor,
    share: torch.Tensor,
    rows: torch.Tensor,
    top: int,
    part: slice,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge one block's contributions (E_part, inputs) into the running `top` largest by
    absolute value of entries `part`; entries outside `part` keep theirs."""
    if best.shape[1] < top:
        pad = top - best.shape[1]
        best = torch.cat([best, torch.zeros((len(best), pad), dtype=best.dtype)], dim=1)
        best_rows = torch.cat([best_rows, torch.full((len(best), pad), -1)], dim=1)
    values = torch.cat([best[part], share.double()], dim=1)
    labels = torch.cat([best_rows[part], rows.expand(len(share), -1)], dim=1)
    by_row = torch.argsort(labels, dim=1, stable=True)
    values, labels = values.gather(1, by_row), labels.gather(1, by_row)
    keep = min(top, values.shape[1])
    order = torch.argsort(-values.abs(), dim=1, stable=True)[:, :keep]
    best, best_rows = best.clone(), best_rows.clone()
    best[part, :keep] = values.gather(1, order)
    best_rows[part, :keep] = labels.gather(1, order)
    return best, best_rows
