"""Knowledge refinement (section 3.4): Eq. 6 minimised by proximal gradient, then thresholded.

Steps are η_e = σ_j / h_e with the diagonal curvature h_e of `RefineProblem.evaluate`
and a step scale σ_j per target column j; without this scaling, hubs reached by many
walks dominate the gradient and only their entries move. Iterations alternate between
the target columns outside `rows`, which depend only on their own column given the
regulator block, and the regulator columns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aligned_kedro.core._checks import check_k, check_non_negative_int, check_positive_int
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.kb import KnowledgeBase
from aligned_kedro.core.knowledge.refinement.edges import edge_summary, edge_table, refined_kb
from aligned_kedro.core.knowledge.refinement.inputs import KINDS, Kind
from aligned_kedro.core.knowledge.refinement.prices import (
    Prices,
    confidence_layout,
    entry_prices,
)
from aligned_kedro.core.knowledge.refinement.problem import Evaluation, RefineProblem
from aligned_kedro.core.knowledge.refinement.relaxation import (
    Penalty,
    Prox,
    Relaxation,
    prox_eps,
    prox_eps_screen,
    prox_frobenius,
    prox_soft,
    relax,
)
from aligned_kedro.core.threads import torch_threads

LAM_PER_INPUT = 0.085
Evidence = Literal["observed", "all"]
_MAX_BACKTRACKS = 30
_MAX_BACKTRACKS_REGULATORS = 6
_GROWTH = 1.5
_COLUMN_CHUNK = 2048
_TINY = 1e-20


@dataclass(frozen=True)
class RefineOptions:
    """Options of the refinement of Eq. 6, checked once when made.

    Parameters
    ----------
    t0
        Sharpness of ε in the penalty λ·ε_t0(|R̄ - R|).
    tk
        Sharpness of ε in the prediction. 1 as in the paper: with the self-activation
        one direct edge makes k+1 walks, so ε saturates at a single edge (ε(5) = 0.993
        for k = 4) and the relaxed prediction is close to the integer deduction's sign.
        None means 1/(k+1), ε(1) per edge.
    lam
        λ, the price of removing one KB edge (before its confidence factor, `prices`) in
        squared errors summed over the fitted inputs. None means `LAM_PER_INPUT` per
        fitted input (an edge reaches more inputs as they grow): the best direct F1 of
        the section 4.2 benchmark on the E. coli KB at 10 and 30 % noise. The paper's
        λ = 1 adds shortcut edges by the thousand there.
    lam_add
        The price of adding one edge; None: λ.
    confidence_weight
        w of the confidence factor 1 + w·c of a KB edge's removal price.
    evidence
        The inputs whose squared errors are fitted (Eq. 6's data term): "all" (the
        paper's: observed and predicted) or "observed" (only those with measured
        responses; then only the edges of a regulator that an observed input perturbs or
        saw respond can change, `RefineProblem.observed_rows`). Support of both kinds is
        reported either way.
    min_called_genes
        An observed input with fewer non-zero labels (on measured genes) is skipped.
    penalty
        "l1" (Eq. 6) or "frobenius" (the non-sparse ablation λ||R̄ - R||_F²).
    prox
        "exact" (`prox_eps`, a hard threshold at the price λ) or "soft" (`prox_soft`).
    relaxation
        "difference" or "separate" (`relaxation.predict`).
    step
        Initial step scale relative to the curvature (1 is a Newton step).
    max_iter
        Most iterations.
    tol
        Stop when the objective decreases by less than this (relative) over one cycle
        of column groups.
    threshold
        An entry is an edge of the refined KB when R̄ exceeds it.
    batch_size
        Most distinct perturbed genes per input block (None: about 4M elements).
    num_threads
        torch's CPU threads while refining (None: unchanged).
    dtype
        torch.float32 or torch.float64 (`RefineProblem`).
    """

    t0: float = 100.0
    tk: float | None = 1.0
    lam: float | None = None
    lam_add: float | None = None
    confidence_weight: float = 1.0
    evidence: Evidence = "all"
    min_called_genes: int = 0
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
        for name in (
            "lam",
            "lam_add",
            "confidence_weight",
            "tol",
            "threshold",
        ):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise InputError(f"{name} must be non-negative, got {value!r}")
        for name, allowed in (
            ("penalty", ("l1", "frobenius")),
            ("prox", ("exact", "soft")),
            ("relaxation", ("separate", "difference")),
            ("evidence", ("observed", "all")),
        ):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        check_non_negative_int(self.max_iter, "max_iter")
        check_non_negative_int(self.min_called_genes, "min_called_genes")
        for name in ("batch_size", "num_threads"):
            check_positive_int(getattr(self, name), name, allow_none=True)
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

    def tk_at(self, k: int) -> float:
        """tk, or 1/(k+1) when it is None."""
        return 1.0 / (k + 1) if self.tk is None else float(self.tk)

    @property
    def fit(self) -> tuple[Kind, ...]:
        """The kinds of input fitted under `evidence`."""
        return KINDS if self.evidence == "all" else ("observed",)

    def prices_for(self, n_inputs: int) -> tuple[float, float]:
        """The prices of a removal (λ) and of an addition: `lam` and `lam_add`, or
        `LAM_PER_INPUT` per fitted input where None."""
        lam = LAM_PER_INPUT * n_inputs if self.lam is None else float(self.lam)
        return lam, lam if self.lam_add is None else float(self.lam_add)


@dataclass(frozen=True)
class RefineResult:
    """Refined KB (Eq. 6, thresholded), its signed edge table and the optimisation trace.

    Attributes
    ----------
    kb : KnowledgeBase
        The refined KB, the input's genes.
    edges : pandas.DataFrame
        The signed edge table (`edges.edge_table`): one row per edge present before or
        after, with score, status, price, support by kind of input and the inputs that
        drive it.
    summary : dict
        Edge counts by status and sign, kept edges by support, edits by evidence, the
        problem's size, the objective at start and end, tk, and the prices λ of a
        removal (before its confidence factor) and of an addition.
    skipped : tuple of str
        The observed inputs skipped for too few responses (`min_called_genes`).
    loss : list of float
        The objective f + penalty per iteration; index 0 is the start.
    iterations : int
    seconds : float
    converged : bool
        The objective stalled (within `RefineOptions.tol`) before `max_iter`.
    """

    kb: KnowledgeBase
    edges: pd.DataFrame
    summary: dict[str, int | float | bool | str]
    skipped: tuple[str, ...]
    loss: list[float] = field(repr=False)
    iterations: int
    seconds: float
    converged: bool


@dataclass(frozen=True)
class _Penalty:
    """The penalty of Eq. 6 as the options choose it, with a price per entry, and its prox."""

    prices: Prices
    kind: Penalty
    prox_kind: Prox
    t0: float

    def entries(self, d: torch.Tensor) -> torch.Tensor:
        d = d.double()
        if self.kind == "frobenius":
            return d * d
        if self.prox_kind == "soft":
            return d.abs()
        # Eq. 6: ε_t0(|R̄ - R|), times the entry's λ
        return relax(d.abs(), self.t0)

    def value(self, problem: RefineProblem, wp: torch.Tensor, wn: torch.Tensor) -> float:
        """The penalty at (R̄+, R̄-), summed over the entries that differ from the input
        KB (an unchanged entry costs 0); the fixed self-activation and the entries that may
        not change (infinite price, never moved) cost nothing."""
        total = 0.0
        for price, d in (
            (self.prices.pos, wp - problem.r_pos),
            (self.prices.neg, wn - problem.r_neg),
        ):
            moved = (d != 0).nonzero(as_tuple=True)
            price, d = price[moved], d[moved]
            free = torch.isfinite(price)
            total += float((price[free] * self.entries(d[free])).sum())
        return total

    def prox(self, v: torch.Tensor, a: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
        if self.kind == "frobenius":
            return prox_frobenius(v, a, lower)
        if self.prox_kind == "soft":
            return prox_soft(v, a, lower)
        return prox_eps(v, a, self.t0, lower)


def refine(
    kb: KnowledgeBase,
    X: np.ndarray | sp.spmatrix,
    Y_bar: np.ndarray | sp.spmatrix,
    options: RefineOptions | None = None,
    *,
    k: int,
    seed: int = 0,
    observed: np.ndarray | None = None,
    measured: np.ndarray | None = None,
    input_names: Sequence[str] | None = None,
    logger: logging.Logger | None = None,
) -> RefineResult:
    """Refine the KB on (X, Ȳ) by minimising Eq. 6 with proximal gradient; threshold to a KB.

    Parameters
    ----------
    kb
        The KB to refine, n genes; an edge's ``confidence`` raises its removal price.
    X, Y_bar
        Inputs and their responses, (m, n), dense or scipy sparse, in {-1, 0, 1}:
        measured labels for observed inputs, aligned predictions ȳ for the others.
    options
        `RefineOptions`; None takes the defaults.
    k
        Closure depth of Eq. 1.
    seed
        Recorded only: the optimisation is deterministic.
    observed
        (m,) bool, True for the rows of X whose responses were measured; None: all.
    measured
        (n,) bool, the genes whose responses were measured (observed rows count only
        there); None: all.
    input_names
        (m,) names of the rows of X for the edge table's ``drivers``; None: ``x<i>``.
    logger
        Receives one line per iteration, and the observed inputs skipped.

    Returns
    -------
    RefineResult
        The refined KB (an entry is an edge when R̄ exceeds ``options.threshold``; a
        pair that ends with both signs keeps both), its signed edge table, a summary,
        the objective per iteration, iterations and seconds.
    """
    options = options or RefineOptions()
    check_k(k)
    with torch_threads(options.num_threads):
        started = time.perf_counter()
        problem = RefineProblem(
            kb,
            X,
            Y_bar,
            k=k,
            tk=options.tk_at(k),
            relaxation=options.relaxation,
            batch_size=options.batch_size,
            dtype=options.dtype,
            observed=observed,
            measured=measured,
            min_called=options.min_called_genes,
            fit=options.fit,
        )
        skipped = problem.inputs.skipped
        if logger is not None and len(skipped):
            logger.warning(
                "refine: %d observed inputs with fewer than %d responses are skipped: %s",
                len(skipped),
                options.min_called_genes,
                ", ".join(_names(input_names, skipped)),
            )
        lam, lam_add = options.prices_for(problem.n_inputs)
        confidence = confidence_layout(kb, problem.rows, problem.layout)
        editable = None if options.evidence == "all" else problem.observed_rows()
        prices = entry_prices(
            (problem.r_pos, problem.r_neg),
            confidence,
            lam,
            lam_add,
            options.confidence_weight,
            editable=editable,
        )
        penalty = _Penalty(prices, options.penalty, options.prox, options.t0)
        at, losses, iterations, converged = _minimise(problem, penalty, options, logger)
        table_started = time.perf_counter()
        names = [
            name if copies <= 1 else f"{name} ×{copies}"
            for name, copies in zip(
                _names(input_names, np.arange(problem.inputs.x.shape[0])),
                problem.copies(),
                strict=True,
            )
        ]
        edges = edge_table(kb, problem, at.wp, at.wn, options.threshold, prices, names)
        summary: dict[str, int | float | bool | str] = {**edge_summary(edges)}
        summary.update(
            {
                "edge_table_seconds": time.perf_counter() - table_started,
                "rows": problem.r,
                "inputs": int(problem.n_inputs),
                "observed_inputs": len(problem.inputs.rows_of("observed")),
                "predicted_inputs": len(problem.inputs.rows_of("predicted")),
                "observed_inputs_skipped": len(skipped),
                "evidence": options.evidence,
                "editable_rows": problem.r if editable is None else int(editable.sum()),
                "perturbed_genes": int(len(problem.perturbed)),
                "objective_start": losses[0],
                "objective_end": losses[-1],
                "converged": converged,
                "relaxation": options.relaxation,
                "tk": problem.tk,
                "lam": lam,
                "lam_add": lam_add,
                "seed": seed,
            }
        )
        return RefineResult(
            skipped=tuple(_names(input_names, skipped)),
            kb=refined_kb(kb, edges),
            edges=edges,
            summary=summary,
            loss=losses,
            iterations=iterations,
            seconds=time.perf_counter() - started,
            converged=converged,
        )


def _minimise(
    problem: RefineProblem,
    penalty: _Penalty,
    options: RefineOptions,
    logger: logging.Logger | None,
) -> tuple[Evaluation, list[float], int, bool]:
    """Proximal gradient on Eq. 6 from the input KB, alternating the column groups.

    A step that raises the objective (f + penalty) is undone and the group's step
    scales quartered, so the objective never increases. Stops when it decreases by less
    than `tol` (relative) over one cycle, or after `max_iter` iterations.

    When a regulator step's last check has already computed the trial's data term, the
    full evaluation (`RefineProblem.evaluate`) waits until the trial is accepted; a step
    that moved nothing is not evaluated again.

    Returns the last accepted evaluation, the objective per iteration (index 0 is the
    start), the iterations and whether it converged.
    """
    r = problem.r
    at = problem.evaluate(problem.r_pos.clone(), problem.r_neg.clone())
    objective = at.total + penalty.value(problem, at.wp, at.wn)
    losses = [objective]
    n_cols = problem.r_pos.shape[1]
    scale = torch.full((n_cols,), float(options.step), dtype=torch.float64)
    groups = [g for g in (torch.arange(r, n_cols), torch.arange(r)) if len(g)]
    iterations = 0
    for iterations in range(1, options.max_iter + 1):
        cols = groups[(iterations - 1) % len(groups)]
        outer = int(cols[0]) >= r
        new_p, new_n, f = _proximal_step(problem, at, cols, outer, scale, penalty)
        trial: Evaluation | None = None
        if f is None:
            unmoved = torch.equal(new_p, at.wp) and torch.equal(new_n, at.wn)
            trial = at if unmoved else problem.evaluate(new_p, new_n, like=at)
            f = trial.f
        new_objective = float(f.sum()) + penalty.value(problem, new_p, new_n)
        if new_objective <= objective + 1e-9 * max(1.0, abs(objective)):
            at = trial if trial is not None else problem.evaluate(new_p, new_n, like=at)
            objective = new_objective
        else:
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
            if (before - objective) <= options.tol * max(1.0, abs(before)):
                return at, losses, iterations, True
    return at, losses, iterations, False


def _prox_at(
    w: torch.Tensor,
    g: torch.Tensor,
    h: torch.Tensor,
    ref: torch.Tensor,
    price: torch.Tensor,
    index: tuple[slice | torch.Tensor, slice | torch.Tensor],
    sigma: torch.Tensor,
    penalty: _Penalty,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The prox-gradient point z at `index` of one sign, with w, ∇f and η there.

    z = R + prox(w - η∇f - R) with η = σ_j / h_e (the prox acts on the deviation from
    the input KB R; R̄ >= 0 is its lower bound -R). Values below 1e-20 become 0, which
    keeps float32 denormals out of the products.
    """
    eta = sigma / h[index]
    ref_s, w_s, g_s, price_s = ref[index], w[index], g[index], price[index]
    # Eq. 6: proximal gradient on the deviation D = R̄ - R, bounded below by -R (R̄ >= 0)
    frozen = torch.isinf(price_s)
    a = torch.where(frozen, 0.0, eta * price_s.to(eta.dtype))
    if penalty.kind == "l1" and penalty.prox_kind == "exact":
        # an absent entry that the exact prox's screen keeps at 0 stays where it is
        absent = (w_s == 0) & (ref_s == 0)
        quiet = frozen | (absent & prox_eps_screen(w_s - eta * g_s - ref_s, a, penalty.t0))
        move = (~quiet).nonzero(as_tuple=True)
        z = w_s.clone()
        lo = ref_s[move]
        moved = lo + penalty.prox(w_s[move] - eta[move] * g_s[move] - lo, a[move], -lo)
        z[move] = torch.where(moved.abs() < _TINY, 0.0, moved)
        return z, w_s, g_s, eta
    z = ref_s + penalty.prox(w_s - eta * g_s - ref_s, a, -ref_s)
    z = torch.where(frozen, w_s, torch.where(z.abs() < _TINY, 0.0, z))
    return z, w_s, g_s, eta


def _model_term(
    z: torch.Tensor, w: torch.Tensor, g: torch.Tensor, eta: torch.Tensor
) -> torch.Tensor:
    """<∇f, z - w> + (z - w)²/(2η) per entry, float64; computed where z moved (0
    elsewhere)."""
    d = z - w
    moved = d != 0
    out = torch.zeros(d.shape, dtype=torch.float64)
    dm = d[moved].double()
    out[moved] = g[moved].double() * dm + dm * dm / (2 * eta[moved].double())
    return out


def _prox_columns(
    w: torch.Tensor,
    g: torch.Tensor,
    h: torch.Tensor,
    ref: torch.Tensor,
    sel: torch.Tensor,
    sigma: torch.Tensor,
    penalty: _Penalty,
    price: torch.Tensor,
    *,
    fixed_diagonal: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The prox-gradient point z on columns `sel` of one sign (`_prox_at`), and its model
    term per column."""
    z, w_s, g_s, eta = _prox_at(w, g, h, ref, price, (slice(None), _as_slice(sel)), sigma, penalty)
    if fixed_diagonal:
        z[sel, torch.arange(len(sel))] = 1.0
    return z, _model_term(z, w_s, g_s, eta).sum(0)


def _as_slice(sel: torch.Tensor) -> slice | torch.Tensor:
    """`sel` as a slice when it is a run of consecutive columns (a view, not a copy)."""
    if len(sel) and int(sel[-1]) - int(sel[0]) + 1 == len(sel) and bool((sel.diff() == 1).all()):
        return slice(int(sel[0]), int(sel[-1]) + 1)
    return sel


def _proximal_step(
    problem: RefineProblem,
    at: Evaluation,
    cols: torch.Tensor,
    outer: bool,
    scale: torch.Tensor,
    penalty: _Penalty,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One proximal-gradient step from `at` on the columns `cols`, backtracked per column.

    A column is accepted when f_j(z) <= f_j(w) + <∇f_j, z - w> + Σ (z - w)²/(2η) (Beck &
    Teboulle). Columns outside `rows` are independent given the regulator block; for
    regulator columns the sum of the conditions must also hold for the total f, else all
    their steps halve. A rejected column's scale halves; accepted steps grow by 1.5.
    `scale` (σ_j per column) is updated in place.

    A smaller step moves no entry that a larger one left in place: with d_w = w - R,
    the prox minimises (d - d_w)²/(2η) + <∇f, d - d_w> + λ·penalty(d), and a smaller η
    raises every d ≠ d_w by more than d_w. So after the first try only the entries that
    moved are solved again, and a column outside `rows` where none moved is accepted
    as it is (its f_j is that of `at`).

    Returns the new point and, for regulator columns, its f_j (n,) when the last data
    term computed was at that point (else None).
    """
    wp, wn, f = at.wp, at.wn, at.f
    new_p, new_n = wp.clone(), wn.clone()
    model = f[cols].clone()
    pending = torch.ones(len(cols), dtype=torch.bool)
    signs = (
        (wp, at.gp, at.hp, problem.r_pos, penalty.prices.pos, new_p, not outer),
        (wn, at.gn, at.hn, problem.r_neg, penalty.prices.neg, new_n, False),
    )
    moving: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    touched = torch.ones(len(cols), dtype=torch.bool)
    for _ in range(_MAX_BACKTRACKS if outer else _MAX_BACKTRACKS_REGULATORS):
        idx = pending.nonzero().squeeze(1)
        sel = cols[idx]
        model[idx] = f[sel]
        if moving is None:
            found: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[], []]
            for start in range(0, len(sel), _COLUMN_CHUNK):
                part = slice(start, start + _COLUMN_CHUNK)
                sel_c, idx_c = sel[part], idx[part]
                sigma = scale[sel_c].to(wp.dtype)
                for sign, (w, g, h, ref, price, new, diagonal) in enumerate(signs):
                    z, term = _prox_columns(
                        w, g, h, ref, sel_c, sigma, penalty, price, fixed_diagonal=diagonal
                    )
                    new[:, sel_c] = z
                    model[idx_c] += term
                    if outer:
                        rows_, at_col = (z != w[:, sel_c]).nonzero(as_tuple=True)
                        found[sign].append((rows_, idx_c[at_col]))
            if outer:
                moving = [
                    (torch.cat([r_ for r_, _ in parts]), torch.cat([p_ for _, p_ in parts]))
                    for parts in found
                ]
                touched = torch.zeros(len(cols), dtype=torch.bool)
                for _, position in moving:
                    touched[position] = True
        else:
            for (w, g, h, ref, price, new, _), (rows_, position) in zip(signs, moving, strict=True):
                keep = pending[position]
                rows_, position = rows_[keep], position[keep]
                index = (rows_, cols[position])
                sigma = scale[index[1]].to(wp.dtype)
                z, w_s, g_s, eta = _prox_at(w, g, h, ref, price, index, sigma, penalty)
                new[index] = z
                model.index_add_(0, position, _model_term(z, w_s, g_s, eta))
        slack = 1e-6 * torch.clamp(f[sel].abs(), min=1.0)
        if outer:
            bad = torch.zeros(len(idx), dtype=torch.bool)
            check = touched[idx]
            if bool(check.any()):
                trial = problem.outer_columns(new_p, new_n, at, sel[check])
                bad[check] = trial > model[idx[check]] + slack[check]
        else:
            trial, _, _ = problem.data_term(new_p, new_n, grad=False)
            bad = trial[sel] > model[idx] + slack
            budget = float(f.sum() - f[cols].sum() + model.sum())
            if not bool(bad.any()) and float(trial.sum()) > budget + float(slack.sum()):
                scale[cols] *= 0.5
                new_p[:, cols], new_n[:, cols] = wp[:, cols], wn[:, cols]
                model = f[cols].clone()
                pending[:] = True
                continue
        scale[sel[bad]] *= 0.5
        if not bool(bad.any()):
            scale[cols] *= _GROWTH
            return new_p, new_n, None if outer else trial
        pending[idx[~bad]] = False
    sel = cols[pending]
    new_p[:, sel], new_n[:, sel] = wp[:, sel], wn[:, sel]
    return new_p, new_n, None


def _names(names: Sequence[str] | None, rows: np.ndarray) -> list[str]:
    """The names of `rows` of X, or x<row> without names."""
    return [f"x{int(i)}" if names is None else str(names[int(i)]) for i in rows]
