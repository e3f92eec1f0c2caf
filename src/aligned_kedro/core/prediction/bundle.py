"""The trained ALIGNED model as one self-contained bundle: f_y and f_a with their graph,
the refined KB that δ_KB comes from (Eq. 1), k, the KB variant and margin, the gene table
names are resolved with, and the measured conditions with their labels.

`bundle_state` gives primitives, lists and tensors only (readable by
``torch.load(weights_only=True)``); `Bundle.from_state` rebuilds and checks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge import Abstention, KnowledgeBase, compile_kb, deduce
from aligned_kedro.core.learning import TrainedModel, from_state

FORMAT = 1
EDGE_COLUMNS = ["regulator", "target", "sign"]
SOURCE = "predictor bundle"


def kb_checksum(kb: KnowledgeBase) -> str:
    """SHA-256 of a KB's signed edges, whatever their order, duplicates or extra columns."""
    lines = sorted({f"{r}\t{t}\t{int(s)}" for r, t, s in kb.edges().itertuples(index=False)})
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _columns(table: pd.DataFrame, columns: Sequence[str]) -> dict[str, list]:
    return {c: [None if pd.isna(v) else v for v in table[c].tolist()] for c in columns}


def _sparse_state(matrix: np.ndarray) -> dict[str, torch.Tensor]:
    coo = sp.coo_matrix(np.asarray(matrix))
    return {
        "rows": torch.as_tensor(coo.row, dtype=torch.int32),
        "cols": torch.as_tensor(coo.col, dtype=torch.int32),
        "values": torch.as_tensor(coo.data, dtype=torch.int8),
    }


def _sparse(state: dict[str, torch.Tensor], shape: tuple[int, int]) -> sp.csr_matrix:
    return sp.csr_matrix(
        (state["values"].numpy(), (state["rows"].numpy(), state["cols"].numpy())),
        shape=shape,
        dtype=np.int8,
    )


def bundle_state(
    model_state: dict[str, Any],
    refined_kb: pd.DataFrame,
    original_kb: pd.DataFrame,
    universe: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None,
    labels: pd.DataFrame,
    perturbations: pd.DataFrame,
    split: dict[str, Any],
    *,
    k: int,
    variant: str,
    margin: float,
    abstention: Abstention | None = None,
    aliases: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything a prediction needs, as primitives and tensors.

    Parameters
    ----------
    model_state : dict
        The final stage's model (`aligned_kedro.core.to_state`), its GNN graph included.
    refined_kb, original_kb : DataFrame
        ``regulator, target, sign`` of the refined KB and of the KB before refinement.
    universe : DataFrame
        ``gene_id, gene_name`` of the model's n genes, in its column order.
    genes, synonyms : DataFrame
        The gene table (``gene_id, gene_name`` and `aliases`) and the synonym table
        (``name, genes``) names are resolved with.
    labels, perturbations : DataFrame, shape (conditions, n)
        Y and X of the measured conditions; `split` names the ``train`` and ``test`` ones.
    k, variant, margin, abstention
        The closure depth, KB variant, margin and abstention rule δ_KB was deduced with.
    """
    n = len(universe)
    refined = compile_kb(refined_kb, universe["gene_id"].tolist(), conflict="both")
    n_model = int(model_state["model_config"]["n_genes"])
    if n_model != n:
        raise InputError(f"the model has {n_model} genes but the universe has {n}", source=SOURCE)
    if list(labels.columns) != universe["gene_id"].tolist():
        raise InputError("labels' columns are not the universe's genes", source=SOURCE)
    split_of = {c: part for part in ("train", "test") for c in split.get(part, [])}
    conditions = labels.index.astype(str).tolist()
    return {
        "format": FORMAT,
        "model_state": model_state,
        "k": int(k),
        "variant": str(variant),
        "margin": float(margin),
        "abstention": asdict(abstention or Abstention()),
        "kb_checksum": kb_checksum(refined),
        "kb": _columns(refined_kb, EDGE_COLUMNS),
        "original_kb": _columns(original_kb, EDGE_COLUMNS),
        "universe": _columns(
            universe, ["gene_id", "gene_name", *(["measured"] if "measured" in universe else [])]
        ),
        "genes": _columns(genes, ["gene_id", "gene_name", *aliases]),
        "aliases": list(aliases),
        "synonyms": None if synonyms is None else _columns(synonyms, ["name", "genes"]),
        "measured": {
            "condition": conditions,
            "split": [split_of.get(c, "") for c in conditions],
            "x": _sparse_state(perturbations.loc[labels.index].to_numpy()),
            "y": _sparse_state(labels.to_numpy()),
        },
        "metadata": {},
    }


@dataclass(frozen=True)
class Measured:
    """The labelled conditions: names, split (train, test or ""), X and Y (c x n)."""

    conditions: pd.DataFrame
    X: sp.csr_matrix
    Y: sp.csr_matrix

    def matches(self, X: sp.csr_matrix) -> list[np.ndarray]:
        """For each row of X, the measured conditions with exactly that input."""
        index: dict[bytes, list[int]] = {}
        for i in range(self.X.shape[0]):
            index.setdefault(_row_key(self.X, i), []).append(i)
        return [np.asarray(index.get(_row_key(X, i), []), dtype=np.intp) for i in range(X.shape[0])]


def _row_key(matrix: sp.csr_matrix, i: int) -> bytes:
    start, end = matrix.indptr[i], matrix.indptr[i + 1]
    cols = matrix.indices[start:end].astype(np.int64)
    order = np.argsort(cols)
    return cols[order].tobytes() + matrix.data[start:end][order].astype(np.int8).tobytes()


@dataclass(frozen=True, eq=False)
class Bundle:
    """A bundle read back: the model, the refined and original KBs, the settings δ_KB
    needs and the names and measured conditions a prediction is reported with."""

    model: TrainedModel
    kb: KnowledgeBase
    original_kb: KnowledgeBase
    k: int
    variant: str
    margin: float
    abstention: Abstention
    universe: pd.DataFrame
    genes: pd.DataFrame
    synonyms: pd.DataFrame | None
    aliases: tuple[str, ...]
    measured: Measured
    checksum: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def gene_ids(self) -> list[str]:
        return self.universe["gene_id"].tolist()

    @property
    def names(self) -> np.ndarray:
        return self.universe["gene_name"].to_numpy(dtype=object)

    @property
    def gene_measured(self) -> np.ndarray:
        """False for the latent genes (KB genes the data did not measure), shape (n,)."""
        if "measured" not in self.universe:
            return np.ones(len(self.universe), dtype=bool)
        return self.universe["measured"].to_numpy(dtype=bool)

    def deduce(self, X: sp.spmatrix | np.ndarray, original: bool = False) -> np.ndarray:
        """δ_KB of the refined KB (or the original one) for the rows of X, m x n int8."""
        kb = self.original_kb if original else self.kb
        return deduce(kb, X, self.k, self.variant, self.margin, abstention=self.abstention)

    @classmethod
    def from_state(
        cls, state: dict[str, Any], *, k: int | None = None, checksum: str | None = None
    ) -> Bundle:
        """Rebuild a bundle from `bundle_state` output. A `k` or KB `checksum` the caller
        expects that differs from the bundle's, and a bundle whose KB is not the one its
        checksum names, raise `InputError` naming both values."""
        if state.get("format") != FORMAT:
            raise InputError(
                f"bundle format {state.get('format')!r}; this version reads {FORMAT}",
                source=SOURCE,
            )
        if k is not None and int(k) != int(state["k"]):
            raise InputError(
                f"the model was trained and its KB refined with k={state['k']}; k={k} was "
                "asked for. Predict with the bundle's k, or train a model with that k",
                source=SOURCE,
                column="k",
            )
        universe = pd.DataFrame(state["universe"])
        genes = universe["gene_id"].tolist()
        kb = compile_kb(pd.DataFrame(state["kb"]), genes, conflict="both", source="refined KB")
        found = kb_checksum(kb)
        if found != state["kb_checksum"]:
            raise InputError(
                f"the bundle's KB has checksum {found[:12]} but its model was saved with the "
                f"KB {state['kb_checksum'][:12]}: model and KB do not belong together",
                source=SOURCE,
                column="kb_checksum",
            )
        if checksum is not None and checksum != state["kb_checksum"]:
            raise InputError(
                f"the model's refined KB has checksum {state['kb_checksum'][:12]}; the KB "
                f"asked for has {checksum[:12]}",
                source=SOURCE,
                column="kb_checksum",
            )
        model = from_state(state["model_state"])
        if model.model_config.n_genes != len(genes):
            raise InputError(
                f"the model has {model.model_config.n_genes} genes but the bundle's universe "
                f"has {len(genes)}",
                source=SOURCE,
            )
        measured = state["measured"]
        shape = (len(measured["condition"]), len(genes))
        return cls(
            model=model,
            kb=kb,
            original_kb=compile_kb(
                pd.DataFrame(state["original_kb"]), genes, conflict="both", source="original KB"
            ),
            k=int(state["k"]),
            variant=str(state["variant"]),
            margin=float(state["margin"]),
            abstention=Abstention.from_params(state.get("abstention")),
            universe=universe,
            genes=pd.DataFrame(state["genes"]),
            synonyms=None if state["synonyms"] is None else pd.DataFrame(state["synonyms"]),
            aliases=tuple(state.get("aliases", ())),
            measured=Measured(
                pd.DataFrame({"condition": measured["condition"], "split": measured["split"]}),
                _sparse(measured["x"], shape),
                _sparse(measured["y"], shape),
            ),
            checksum=str(state["kb_checksum"]),
            metadata=dict(state.get("metadata") or {}),
        )
