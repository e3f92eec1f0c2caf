"""The inputs of Eq. 6 for refinement: checked, sorted by the kind of their evidence, and
grouped in blocks that share a basis.

An input is *observed* when its responses were measured (a labelled condition and its
labels) and *predicted* when they come from the aligned prediction ȳ (an unlabelled input
of X_u). An observed input counts only on the genes that were measured; one with fewer
than `min_called` responses (non-zero labels) lacks the power to say that a gene does
not change, and is skipped.

Inputs of one kind with the same x (the cells of one condition in a per-cell screen) enter
Eq. 6 once: Σ_i ||pred(x) - ȳ_i||² = c·||pred(x) - mean ȳ||² + Σ_i ||ȳ_i - mean ȳ||², so a
group of c inputs is one row scaled by √c plus a constant per column (`InputBlock.spread`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from aligned_kedro.core._checks import PERTURBATION_HINT, check_gene_mask, check_ternary
from aligned_kedro.core.errors import InputError

Kind = Literal["observed", "predicted"]
KINDS: tuple[Kind, ...] = ("observed", "predicted")


@dataclass(frozen=True)
class InputBlock:
    """Distinct inputs of one kind that perturb at most `batch_size` distinct genes: the
    basis (their row positions), inputs √c·x (sparse, inputs x basis) and targets √c·mean ȳ
    (inputs x n) of each group of c equal inputs, the weight Σ c·x² of each basis gene, the
    first row of X of each group and c, the constant Σ_i (ȳ_i - mean ȳ)² per column
    (float64), and for observed inputs the 0/1 mask of the measured columns (None: every
    column counts)."""

    basis: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor
    rows: np.ndarray
    kind: Kind
    count: torch.Tensor
    spread: torch.Tensor
    mask: torch.Tensor | None = None

    def masked(
        self, values: torch.Tensor, columns: slice | torch.Tensor = slice(None)
    ) -> torch.Tensor:
        """`values` (…, c) on `columns` of the layout, 0 where no response was measured."""
        return values if self.mask is None else values * self.mask[columns]

    def masked_t(self, values_t: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """`values_t` (c, inputs), the transposed layout, on `columns`, 0 where no response
        was measured."""
        return values_t if self.mask is None else values_t * self.mask[columns][:, None]

    def residual(
        self, pred: torch.Tensor, columns: slice | torch.Tensor = slice(None)
    ) -> torch.Tensor:
        """x·prediction - ȳ on `columns`, (inputs, c), 0 where no response was measured."""
        return self.masked(torch.sparse.mm(self.x, pred) - self.y[:, columns], columns)


@dataclass(frozen=True)
class Inputs:
    """Checked inputs: X (CSR, m x n), ȳ (m x n), the kind of each row, the measured genes,
    and the observed rows skipped for too few responses."""

    x: sp.csr_matrix
    y: np.ndarray
    observed: np.ndarray
    measured: np.ndarray
    skipped: np.ndarray

    def rows_of(self, kind: Kind) -> np.ndarray:
        """Rows of that kind that take part (skipped rows excluded), ascending."""
        chosen = self.observed if kind == "observed" else ~self.observed
        chosen = chosen.copy()
        chosen[self.skipped] = False
        return np.flatnonzero(chosen)


def check_inputs(
    X: object,
    Y_bar: object,
    genes: tuple[str, ...],
    *,
    observed: object = None,
    measured: object = None,
    min_called: int = 0,
) -> Inputs:
    """X as float64 CSR (sorted, no stored zeros) and Ȳ as given, both (m, n) with values
    in {-1, 0, 1}; a bad value raises `InputError` naming its row and gene. `observed`
    (m,) marks the rows whose Ȳ are measured responses (None: every row); `measured` (n,)
    the genes they were measured on (None: every gene). Observed rows with fewer than
    `min_called` non-zero values on measured genes are listed in ``skipped``."""
    n = len(genes)
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
    xs = check_ternary(sp.csr_matrix(x), "X", hint=PERTURBATION_HINT, genes=genes, sparse=True)
    check_ternary(y, "Y_bar", genes=genes)
    xs = sp.csr_matrix(xs, dtype=np.float64)
    xs.eliminate_zeros()
    xs.sort_indices()
    m = xs.shape[0]
    rows_observed = np.ones(m, dtype=bool) if observed is None else np.asarray(observed)
    if rows_observed.shape != (m,) or rows_observed.dtype != bool:
        raise InputError(
            f"observed must be a boolean vector of the {m} inputs, got {rows_observed.dtype} "
            f"of shape {rows_observed.shape}",
            source="refine",
        )
    genes_measured = check_gene_mask(measured, n, "measured", source="refine")
    called = np.count_nonzero(y[:, genes_measured], axis=1)
    skipped = np.flatnonzero(rows_observed & (called < min_called))
    return Inputs(xs, y, rows_observed, genes_measured, skipped)


def distinct_inputs(x: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """The group of each row of `x` (sorted CSR) by equal rows, numbered in order of first
    appearance, (m,), and the first row of each group."""
    groups: dict[bytes, int] = {}
    group = np.empty(x.shape[0], dtype=np.intp)
    for i in range(x.shape[0]):
        a, b = x.indptr[i], x.indptr[i + 1]
        key = x.indices[a:b].tobytes() + x.data[a:b].tobytes()
        group[i] = groups.setdefault(key, len(groups))
    first = np.full(len(groups), x.shape[0], dtype=np.intp)
    np.minimum.at(first, group, np.arange(x.shape[0]))
    return group, first


def input_blocks(
    inputs: Inputs,
    kind: Kind,
    position: np.ndarray,
    layout: np.ndarray,
    limit: int,
    dtype: torch.dtype,
) -> list[InputBlock]:
    """Merge the equal inputs of `kind` and group them (in order of their first perturbed
    gene) into blocks of <= `limit` genes."""
    chosen = inputs.rows_of(kind)
    group, first = distinct_inputs(inputs.x[chosen])
    members_of = sp.csr_matrix(
        (np.ones(len(group)), (group, np.arange(len(group)))), shape=(len(first), len(group))
    )
    count = np.asarray(members_of.sum(axis=1)).ravel()
    y_kind = inputs.y[chosen][:, layout].astype(np.float64)
    sums = members_of @ y_kind
    mean = sums / count[:, None]
    spread = members_of @ np.abs(y_kind) - sums**2 / count[:, None]
    rows = chosen[first]
    xs = inputs.x[rows]
    mask = None
    if kind == "observed" and not inputs.measured.all():
        mask = torch.as_tensor(inputs.measured[layout], dtype=dtype)
        spread = spread * inputs.measured[layout]
    m = xs.shape[0]
    lead_gene = np.full(m, -1, dtype=np.int64)
    nonempty = np.diff(xs.indptr) > 0
    lead_gene[nonempty] = xs.indices[xs.indptr[:-1][nonempty]]
    groups: list[tuple[list[int], set[int]]] = []
    members: list[int] = []
    genes: set[int] = set()
    for i in np.lexsort((np.arange(m), lead_gene)):
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
        scale = np.sqrt(count[members])
        x_block = sp.diags(scale) @ xs[members][:, cols]
        x_block = x_block.tocoo()
        x_tensor = torch.sparse_coo_tensor(
            np.vstack([x_block.row, x_block.col]),
            x_block.data,
            size=x_block.shape,
            dtype=dtype,
            check_invariants=True,
        ).coalesce()
        out.append(
            InputBlock(
                basis=torch.as_tensor(position[cols], dtype=torch.long),
                x=x_tensor,
                y=torch.as_tensor(scale[:, None] * mean[members], dtype=dtype),
                weight=torch.as_tensor(
                    np.asarray(x_block.power(2).sum(axis=0)).ravel(), dtype=dtype
                ),
                rows=rows[members],
                kind=kind,
                count=torch.as_tensor(count[members], dtype=torch.long),
                spread=torch.as_tensor(spread[members].sum(axis=0), dtype=torch.float64),
                mask=mask,
            )
        )
    return out
