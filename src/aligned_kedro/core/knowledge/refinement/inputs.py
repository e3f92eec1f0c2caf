"""The inputs of Eq. 6 for refinement: checked, and grouped in blocks that share a basis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from aligned_kedro.core._checks import PERTURBATION_HINT, check_ternary
from aligned_kedro.core.errors import InputError


@dataclass(frozen=True)
class InputBlock:
    """Inputs that perturb at most `batch_size` distinct genes: the basis (their row
    positions), inputs x (sparse, inputs x basis), targets ȳ (inputs x n) and the weight
    Σ x² of each basis gene."""

    basis: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor


def check_inputs(
    X: object, Y_bar: object, genes: tuple[str, ...]
) -> tuple[sp.csr_matrix, np.ndarray]:
    """X as float64 CSR (sorted, no stored zeros) and Ȳ as given, both (m, n) with values
    in {-1, 0, 1}; a bad value raises `InputError` naming its row and gene."""
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
    return xs, y


def input_blocks(
    xs: sp.csr_matrix,
    y: np.ndarray,
    position: np.ndarray,
    layout: np.ndarray,
    limit: int,
    dtype: torch.dtype,
) -> list[InputBlock]:
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
            InputBlock(
                basis=torch.as_tensor(position[cols], dtype=torch.long),
                x=x_tensor,
                y=torch.as_tensor(y[members][:, layout], dtype=dtype),
                weight=torch.as_tensor(
                    np.asarray(x_block.power(2).sum(axis=0)).ravel(), dtype=dtype
                ),
            )
        )
    return out
