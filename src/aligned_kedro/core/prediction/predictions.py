"""Predictions for perturbations nobody measured, and why (sections 2.2 and 3.3).

ȳ takes δ_KB of the refined KB where the adaptor f_a routes a gene to the KB and f_y's
answer ŷ elsewhere; the positive and negative path counts (`paths.path_counts`) are the
numbers δ_KB is the sign of, and the shortest signed path says which interactions carry it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning import predict
from aligned_kedro.core.learning.routing import path_evidence
from aligned_kedro.core.prediction.bundle import Bundle
from aligned_kedro.core.prediction.paths import (
    ARROWS,
    ShortestWalks,
    SignedPath,
    path_counts,
    shortest_path_text,
    shortest_walks,
    signed_paths,
)
from aligned_kedro.core.threads import torch_threads

if TYPE_CHECKING:
    import anndata

CLASSES = (-1, 0, 1)
PROBABILITY_COLUMNS = ("p_down", "p_none", "p_up")
TABLE_COLUMNS = (
    "perturbation",
    "perturbation_type",
    "gene_id",
    "gene_name",
    "gene_measured",
    "prediction",
    "source",
    "confidence",
    "p_kb",
    *PROBABILITY_COLUMNS,
    "neural",
    "delta_kb",
    "paths_pos",
    "paths_neg",
    "path",
    "measured",
    "split",
    "observed",
)
DE_COLUMNS = ("target", "feature", "log2_fold_change", "abs_log2_fold_change", "p_value", "fdr")


@dataclass(frozen=True, eq=False)
class Prediction:
    """The answers for m requests over the n genes.

    `y_bar` is ȳ, `a` the adaptor's choice (1: the KB's answer), `p_kb` its probability,
    `y_hat` f_y's answer with its class `probabilities` (m x n x 3), `delta` δ_KB of the
    refined KB with the path counts `pos` and `neg` it is the sign of; `matches` holds the
    measured conditions with the same input as each request.
    """

    requests: pd.DataFrame
    X: sp.csr_matrix
    y_bar: np.ndarray
    a: np.ndarray
    p_kb: np.ndarray
    y_hat: np.ndarray
    probabilities: np.ndarray
    delta: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    matches: list[np.ndarray] = field(default_factory=list)

    def confidence(self) -> np.ndarray:
        """How sure the chosen component is: p_kb where ȳ is the KB's, else f_y's
        probability of its class."""
        chosen = np.take_along_axis(
            self.probabilities, (self.y_hat.astype(np.intp) + 1)[..., None], axis=-1
        )[..., 0]
        return np.where(self.a == 1, self.p_kb, chosen)


def predict_requests(
    bundle: Bundle, requests: pd.DataFrame, X: sp.csr_matrix, *, num_threads: int | None = 1
) -> Prediction:
    """ȳ for the requests of `requests.resolve_requests` (m rows, X m x n); an adaptive
    f_a reads the refined KB's path evidence for X, as in the final refinement stage.

    Parameters
    ----------
    bundle : Bundle
        The trained model and its refined KB.
    requests : DataFrame
        ``perturbation, perturbation_type, gene_ids``, m rows.
    X : scipy.sparse.csr_matrix, shape (m, n)
        The requests' inputs in {-1, 0, 1}.
    num_threads : int or None
        Torch CPU threads for f_y and f_a (None: torch's default); one keeps shared cores
        steady.

    Returns
    -------
    Prediction
        Arrays of shape (m, n) (probabilities: (m, n, 3)).
    """
    if X.shape != (len(requests), len(bundle.universe)):
        raise InputError(
            f"X has shape {X.shape}; expected ({len(requests)}, {len(bundle.universe)})",
            source="X",
        )
    delta = bundle.deduce(X)
    routed = bundle.model.adaptor and bundle.model.model.adaptive
    evidence = path_evidence(bundle.kb, X, bundle.k) if routed else None
    with torch_threads(num_threads):
        outputs = predict(bundle.model, X, delta, evidence, probabilities=True)
    pos, neg = path_counts(bundle.kb, X, bundle.k, bundle.variant)
    return Prediction(
        requests=requests.reset_index(drop=True),
        X=sp.csr_matrix(X),
        y_bar=outputs["y_bar"],
        a=outputs["a"],
        p_kb=outputs["p_a"],
        y_hat=outputs["y_hat"],
        probabilities=outputs["p_y"],
        delta=delta,
        pos=pos,
        neg=neg,
        matches=bundle.measured.matches(sp.csr_matrix(X)),
    )


def observed(bundle: Bundle, prediction: Prediction) -> np.ndarray:
    """The measured label of each request and gene, m x n float32: NaN where the request
    was not measured, where its measured conditions disagree, and for latent genes."""
    out = np.full(prediction.y_bar.shape, np.nan, dtype=np.float32)
    for i, rows in enumerate(prediction.matches):
        if len(rows):
            labels = bundle.measured.Y[rows].toarray()
            agree = (labels == labels[0]).all(axis=0)
            out[i, agree] = labels[0, agree]
    out[:, ~bundle.gene_measured] = np.nan
    return out


def _split(bundle: Bundle, rows: np.ndarray) -> str:
    parts = bundle.measured.conditions["split"].to_numpy()[rows]
    return "+".join(sorted({p for p in parts if p})) if len(rows) else ""


def _sources(X: sp.csr_matrix, i: int) -> dict[int, int]:
    start, end = X.indptr[i], X.indptr[i + 1]
    return dict(
        zip(X.indices[start:end].tolist(), X.data[start:end].astype(int).tolist(), strict=True)
    )


def _path_texts(
    bundle: Bundle, prediction: Prediction, walks: ShortestWalks, rows: np.ndarray, cols: np.ndarray
) -> list[str]:
    names = bundle.names
    texts = []
    inputs: dict[int, dict[int, int]] = {}
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        if prediction.pos[i, j] == 0 and prediction.neg[i, j] == 0:
            texts.append("")
            continue
        if i not in inputs:
            inputs[i] = _sources(prediction.X, i)
        x = inputs[i]
        effect = int(prediction.delta[i, j])
        if effect:
            texts.append(shortest_path_text(walks, x, j, effect, names))
            continue
        both = [shortest_path_text(walks, x, j, e, names) for e in (1, -1)]
        found = [t for t in both if t]
        texts.append(min(found, key=lambda t: t.count(" ")) if found else "")
    return texts


def prediction_table(
    bundle: Bundle, prediction: Prediction, *, top: int | None = None
) -> pd.DataFrame:
    """The long table: one row per request and gene (every gene, or with `top` the `top`
    responding genes of each request, most confident first), with the columns of
    `TABLE_COLUMNS`: ȳ as ``prediction``, its ``source`` (kb or neural), how sure that
    source is (``confidence``, `Prediction.confidence`), ``p_kb``, f_y's
    class probabilities and answer (``neural``), ``delta_kb`` with the positive and
    negative path counts, the shortest signed path that carries δ_KB (or, where δ_KB is 0,
    the shortest of either sign), and the observed label of a measured request;
    ``gene_measured`` is False for a latent gene (predicted, never observed)."""
    m, n = prediction.y_bar.shape
    confidence = prediction.confidence()
    if top is None:
        rows = np.repeat(np.arange(m), n)
        cols = np.tile(np.arange(n), m)
    else:
        if top < 1:
            raise InputError(f"top must be a positive number of genes, got {top}", source="top")
        picked = []
        for i in range(m):
            responding = np.flatnonzero(prediction.y_bar[i])
            order = np.argsort(-confidence[i, responding], kind="stable")
            picked.append(responding[order[:top]])
        rows = np.concatenate([np.full(len(p), i) for i, p in enumerate(picked)]).astype(np.intp)
        cols = np.concatenate(picked).astype(np.intp) if picked else np.zeros(0, np.intp)
    walks = shortest_walks(bundle.kb, np.unique(prediction.X.indices), bundle.k)
    seen = observed(bundle, prediction)
    measured = np.array([len(r) > 0 for r in prediction.matches], dtype=bool)
    splits = np.array([_split(bundle, r) for r in prediction.matches], dtype=object)
    requests = prediction.requests
    table = pd.DataFrame(
        {
            "perturbation": requests["perturbation"].to_numpy(dtype=object)[rows],
            "perturbation_type": requests["perturbation_type"].to_numpy(dtype=object)[rows],
            "gene_id": np.asarray(bundle.gene_ids, dtype=object)[cols],
            "gene_name": bundle.names[cols],
            "gene_measured": bundle.gene_measured[cols],
            "prediction": prediction.y_bar[rows, cols],
            "source": np.where(prediction.a[rows, cols] == 1, "kb", "neural"),
            "confidence": confidence[rows, cols],
            "p_kb": prediction.p_kb[rows, cols],
            **{
                name: prediction.probabilities[rows, cols, c]
                for c, name in enumerate(PROBABILITY_COLUMNS)
            },
            "neural": prediction.y_hat[rows, cols],
            "delta_kb": prediction.delta[rows, cols],
            "paths_pos": prediction.pos[rows, cols],
            "paths_neg": prediction.neg[rows, cols],
            "path": _path_texts(bundle, prediction, walks, rows, cols),
            "measured": measured[rows],
            "split": splits[rows],
            "observed": pd.array(seen[rows, cols], dtype="Float32").astype("Int8"),
        }
    )
    return table.loc[:, list(TABLE_COLUMNS)]


def response_summary(prediction: Prediction) -> pd.DataFrame:
    """Per request: how many genes ȳ moves up and down, how many of those answers are
    δ_KB's (``from_kb``: f_a routed the gene to the KB) and f_y's (``from_neural``), and
    whether the perturbation was measured."""
    moved = prediction.y_bar != 0
    kb = moved & (prediction.a == 1)
    requests = prediction.requests
    return pd.DataFrame(
        {
            "perturbation": requests["perturbation"].to_numpy(dtype=object),
            "perturbation_type": requests["perturbation_type"].to_numpy(dtype=object),
            "up": (prediction.y_bar == 1).sum(axis=1),
            "down": (prediction.y_bar == -1).sum(axis=1),
            "from_kb": kb.sum(axis=1),
            "from_neural": (moved & ~kb).sum(axis=1),
            "measured": [len(r) > 0 for r in prediction.matches],
        }
    )


def de_table(targets: list[str], features: list[str], values: np.ndarray) -> pd.DataFrame:
    """Ternary answers (targets x features) as a differential-expression table in the
    columns cell-eval's DE comparison reads: the direction as ``log2_fold_change``, and a
    called change as significant (``p_value`` and ``fdr`` 0; 1 for no change)."""
    values = np.asarray(values)
    called = (values != 0).ravel()
    return pd.DataFrame(
        {
            "target": np.repeat(np.asarray(targets, dtype=object), len(features)),
            "feature": np.tile(np.asarray(features, dtype=object), len(targets)),
            "log2_fold_change": values.ravel().astype(np.float64),
            "abs_log2_fold_change": np.abs(values.ravel()).astype(np.float64),
            "p_value": np.where(called, 0.0, 1.0),
            "fdr": np.where(called, 0.0, 1.0),
        }
    )


def measured_test_requests(bundle: Bundle) -> tuple[pd.DataFrame, sp.csr_matrix]:
    """The measured test conditions as requests (named by condition) and their inputs."""
    conditions = bundle.measured.conditions
    rows = np.flatnonzero(conditions["split"].eq("test").to_numpy())
    X = bundle.measured.X[rows]
    ids = np.asarray(bundle.gene_ids, dtype=object)
    requests = pd.DataFrame(
        {
            "perturbation": conditions["condition"].to_numpy()[rows],
            "perturbation_type": [
                "+".join("OE" if v > 0 else "KO" for v in X[i].data) for i in range(len(rows))
            ],
            "gene_ids": ["+".join(ids[X[i].indices]) for i in range(len(rows))],
        }
    )
    return requests, sp.csr_matrix(X)


def to_anndata(bundle: Bundle, prediction: Prediction) -> anndata.AnnData:
    """obs = requests, var = genes, X = ȳ (int8); layers p_kb, f_y's class probabilities,
    neural, delta_kb, paths_pos, paths_neg and observed (NaN where not measured); uns holds
    the run ID, k, the KB variant, margin, abstention rule and checksum, and the model's
    type and graph."""
    import anndata

    requests = prediction.requests
    obs = pd.DataFrame(
        {
            "perturbation_type": requests["perturbation_type"].to_numpy(),
            "gene_ids": requests["gene_ids"].to_numpy(),
            "measured": [len(r) > 0 for r in prediction.matches],
            "split": [_split(bundle, r) for r in prediction.matches],
        },
        index=pd.Index(requests["perturbation"].astype(str).to_numpy(), name="perturbation"),
    )
    var = pd.DataFrame(
        {"gene_name": bundle.names.astype(str)},
        index=pd.Index(bundle.gene_ids, name="gene_id"),
    )
    layers = {
        "p_kb": prediction.p_kb.astype(np.float32),
        **{name: prediction.probabilities[..., c] for c, name in enumerate(PROBABILITY_COLUMNS)},
        "source_kb": prediction.a.astype(np.int8),
        "neural": prediction.y_hat.astype(np.int8),
        "delta_kb": prediction.delta.astype(np.int8),
        "paths_pos": prediction.pos,
        "paths_neg": prediction.neg,
        "observed": observed(bundle, prediction),
    }
    config = bundle.model.model_config
    uns = {
        "run_id": str(bundle.metadata.get("run_id") or ""),
        "k": bundle.k,
        "variant": bundle.variant,
        "margin": bundle.margin,
        "abstention": asdict(bundle.abstention),
        "kb_checksum": bundle.checksum,
        "model_type": config.model_type,
        "graph": config.graph,
    }
    return anndata.AnnData(
        X=prediction.y_bar.astype(np.int8), obs=obs, var=var, layers=layers, uns=uns
    )


@dataclass(frozen=True)
class Explanation:
    """Why ȳ is what it is for one request and gene.

    `paths` lists up to the requested number of signed walks through the refined KB
    (shortest first) with the edges refinement added; `removed_paths` the walks of the
    original KB that refinement cut. `paths_pos` and `paths_neg` are the closure counts
    δ_KB is the sign of (each walk of L interactions counts `weight` times); `training`
    compares the gene's measured labels in the training conditions with δ_KB of the
    original and the refined KB.
    """

    perturbation: str
    gene_id: str
    gene_name: str
    prediction: int
    source: str
    p_kb: float
    probabilities: dict[int, float]
    neural: int
    delta_kb: int
    delta_kb_original: int
    paths_pos: float
    paths_neg: float
    k: int
    variant: str
    margin: float
    paths: pd.DataFrame
    removed_paths: pd.DataFrame
    training: pd.DataFrame
    observed: float | None

    def __str__(self) -> str:
        verb = {-1: "down", 0: "unchanged", 1: "up"}
        lines = [
            f"{self.perturbation} -> {self.gene_name} ({self.gene_id}): "
            f"{verb[self.prediction]}, from the {self.source} (p_kb = {self.p_kb:.3f})",
            "  f_y: p(down, none, up) = "
            + ", ".join(f"{self.probabilities[c]:.3f}" for c in CLASSES)
            + f" -> {verb[self.neural]}",
            f"  KB (k = {self.k}, {self.variant}): {int(self.paths_pos)} positive and "
            f"{int(self.paths_neg)} negative paths -> delta_kb = {self.delta_kb} "
            f"(before refinement: {self.delta_kb_original})",
        ]
        lines += [
            f"  {p.effect:+d} x{p.weight}  {p.path}" + (f"  [added: {p.added}]" if p.added else "")
            for p in self.paths.itertuples()
        ]
        lines += [f"  cut by refinement: {p.path}" for p in self.removed_paths.itertuples()]
        if self.observed is not None:
            lines.append(f"  measured: {verb[int(self.observed)]}")
        return "\n".join(lines)


def _edge_set(kb: Any) -> set[tuple[str, str, int]]:
    return {(r, t, int(s)) for r, t, s in kb.edges().itertuples(index=False)}


def _path_rows(
    paths: list[SignedPath], names: np.ndarray, ids: np.ndarray, marked: set, mark: str
) -> pd.DataFrame:
    rows = []
    for path in paths:
        parts = [str(names[path.genes[0]])]
        edges = []
        for u, v, s in zip(path.genes, path.genes[1:], path.signs, strict=False):
            parts += [ARROWS[s], str(names[v])]
            if (ids[u], ids[v], s) in marked:
                edges.append(f"{names[u]} {ARROWS[s]} {names[v]}")
        rows.append((" ".join(parts), path.length, path.effect, path.weight, "; ".join(edges)))
    return pd.DataFrame(rows, columns=["path", "interactions", "effect", "weight", mark])


def training_agreement(bundle: Bundle, gene: int) -> pd.DataFrame:
    """For one gene, over the measured training conditions: how often δ_KB of the original
    and of the refined KB agree with the label, contradict it (opposite signs), miss a
    change (δ_KB 0) or call one the data do not show."""
    train = np.flatnonzero(bundle.measured.conditions["split"].eq("train").to_numpy())
    y = bundle.measured.Y[train][:, gene].toarray().ravel()
    rows = []
    for name, original in (("original", True), ("refined", False)):
        delta = bundle.deduce(bundle.measured.X[train], original=original)[:, gene]
        rows.append(
            (
                name,
                len(train),
                int((delta == y).sum()),
                int(((delta * y) < 0).sum()),
                int(((delta == 0) & (y != 0)).sum()),
                int(((delta != 0) & (y == 0)).sum()),
            )
        )
    return pd.DataFrame(
        rows, columns=["kb", "conditions", "agree", "contradict", "kb_silent", "kb_only"]
    )


def explain(
    bundle: Bundle,
    requests: pd.DataFrame,
    X: sp.csr_matrix,
    gene: int,
    *,
    limit: int = 10,
) -> Explanation:
    """Explain ȳ for the one request in `requests` / `X` (1 x n) and gene index `gene`:
    up to `limit` signed paths of at most k+1 interactions through the refined KB,
    shortest first, the path counts that decide δ_KB, the adaptor's choice and
    probability, f_y's probabilities and the training data's agreement with the KB."""
    if X.shape[0] != 1:
        raise InputError(f"explain takes one perturbation, got {X.shape[0]}", source="explain")
    prediction = predict_requests(bundle, requests, X)
    x = _sources(prediction.X, 0)
    ids = np.asarray(bundle.gene_ids, dtype=object)
    names = bundle.names
    refined, original = _edge_set(bundle.kb), _edge_set(bundle.original_kb)
    paths = signed_paths(bundle.kb, x, gene, bundle.k, bundle.variant, limit=limit)
    before = signed_paths(bundle.original_kb, x, gene, bundle.k, bundle.variant, limit=100 * limit)
    cut = [
        p
        for p in before
        if any(
            (ids[u], ids[v], s) not in refined
            for u, v, s in zip(p.genes, p.genes[1:], p.signs, strict=False)
        )
    ][:limit]
    seen = observed(bundle, prediction)[0, gene]
    return Explanation(
        perturbation=str(prediction.requests["perturbation"].iloc[0]),
        gene_id=str(ids[gene]),
        gene_name=str(names[gene]),
        prediction=int(prediction.y_bar[0, gene]),
        source="kb" if prediction.a[0, gene] == 1 else "neural",
        p_kb=float(prediction.p_kb[0, gene]),
        probabilities={
            c: float(prediction.probabilities[0, gene, i]) for i, c in enumerate(CLASSES)
        },
        neural=int(prediction.y_hat[0, gene]),
        delta_kb=int(prediction.delta[0, gene]),
        delta_kb_original=int(bundle.deduce(prediction.X, original=True)[0, gene]),
        paths_pos=float(prediction.pos[0, gene]),
        paths_neg=float(prediction.neg[0, gene]),
        k=bundle.k,
        variant=bundle.variant,
        margin=bundle.margin,
        paths=_path_rows(paths, names, ids, refined - original, "added"),
        removed_paths=_path_rows(cut, names, ids, original - refined, "removed"),
        training=training_agreement(bundle, gene),
        observed=None if np.isnan(seen) else float(seen),
    )
