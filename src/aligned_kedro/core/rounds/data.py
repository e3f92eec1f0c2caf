"""The data and the settings of a round of Algorithm 1, each checked once."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aligned_kedro.core._checks import (
    PERTURBATION_HINT,
    check_gene_mask,
    check_non_negative_int,
    check_ternary,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.abstention import Abstention
from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import KnowledgeBase
from aligned_kedro.core.knowledge.refinement import RefineOptions
from aligned_kedro.core.learning.models import ModelConfig
from aligned_kedro.core.learning.training import TrainConfig

PRIORS = ("balanced", "e3", "agreement", "constant", "random")
ADAPTOR_OPTIONS = ("weights", "folds", "random_kb", "route_prior", "route_steps", "route_lr")
ROUTING_MODEL_OPTIONS = ("routing", "route_hidden", "route_scope")
ROUTE_PRIORS = ("fitted", "none")


@dataclass(frozen=True, eq=False)
class RoundData:
    """The data of Algorithm 1: D_l = (X, Y) with its split, X_u, and δ of the ORIGINAL KB
    on X, against which every stage's knowledge consistency is scored.

    Parameters
    ----------
    X : numpy.ndarray, shape (m, n)
        Perturbations of the labelled rows, in {-1, 0, 1}.
    Y : numpy.ndarray, shape (m, n)
        Their labels, in {-1, 0, 1}.
    kb_pred : numpy.ndarray, shape (m, n)
        δ_KB(X) of the original KB.
    X_u : numpy.ndarray, shape (m_u, n)
        Unlabelled inputs.
    train, test : numpy.ndarray of int, shape (m_train,) and (m_test,)
        Row indices of X of the training and the test split.
    genes : sequence of str, length n
        The gene universe, in column order (the KB's genes).
    rows : sequence, length m, optional
        Names of the rows of X (conditions or cells); 0..m-1 when omitted.
    measured : numpy.ndarray of bool, shape (n,), optional
        False for the latent genes: KB genes without a measurement, whose columns of Y
        hold no labels; every score, the prior and f_y's cross-entropy leave them out.
        All True when omitted.

    The arrays are read-only views, so stages can share one RoundData without copies.
    """

    X: np.ndarray
    Y: np.ndarray
    kb_pred: np.ndarray
    X_u: np.ndarray
    train: np.ndarray
    test: np.ndarray
    genes: tuple[str, ...]
    rows: tuple[Hashable, ...] = ()
    measured: np.ndarray | None = None

    def __post_init__(self) -> None:
        source = "round data"
        X = check_ternary(self.X, "X", source=source, hint=PERTURBATION_HINT)
        if X.ndim != 2:
            raise InputError(f"X must be an m x n matrix, got shape {X.shape}", source=source)
        genes = tuple(str(g) for g in self.genes)
        if len(genes) != X.shape[1]:
            raise InputError(
                f"X has {X.shape[1]} columns but there are {len(genes)} genes", source=source
            )
        Y = check_ternary(self.Y, "Y", shape=X.shape, source=source)
        kb_pred = check_ternary(self.kb_pred, "kb_pred", shape=X.shape, source=source)
        X_u = check_ternary(self.X_u, "X_u", source=source, hint=PERTURBATION_HINT)
        if X_u.ndim != 2 or X_u.shape[1] != X.shape[1]:
            raise InputError(
                f"X_u has shape {X_u.shape}; expected {X.shape[1]} columns", source=source
            )
        rows = tuple(self.rows) or tuple(range(len(X)))
        if len(rows) != len(X):
            raise InputError(f"{len(rows)} row names for {len(X)} rows of X", source=source)
        measured = check_gene_mask(self.measured, len(genes), source=source)
        checked = {
            "X": X,
            "Y": Y,
            "kb_pred": kb_pred,
            "X_u": X_u,
            "genes": genes,
            "rows": rows,
            "measured": measured,
        }
        checked["train"] = _row_indices(self.train, len(X), "train")
        checked["test"] = _row_indices(self.test, len(X), "test")
        for name, value in checked.items():
            if isinstance(value, np.ndarray):
                value = value.view()
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    @property
    def all_measured(self) -> bool:
        """No latent gene: every column is scored."""
        return bool(self.measured.all())

    def scored(self, values: np.ndarray) -> np.ndarray:
        """The measured genes' columns of an (m, n) matrix: what every score reads."""
        return values if self.all_measured else values[:, self.measured]

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X, Y and δ of the original KB on the rows of split part `name` (train or test)."""
        rows = getattr(self, name)
        return self.X[rows], self.Y[rows], self.kb_pred[rows]


def _row_indices(values: Any, m: int, part: str) -> np.ndarray:
    rows = np.asarray(values)
    if rows.size == 0:
        return rows.astype(np.intp)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise InputError(f"{part} must be a 1-d array of row indices", source="round data")
    outside = np.flatnonzero((rows < 0) | (rows >= m))
    if len(outside):
        raise InputError(
            f"{part} names row {int(rows[outside[0]])} of a matrix of {m} rows",
            source="round data",
            row=int(rows[outside[0]]),
        )
    return rows.astype(np.intp)


@dataclass(frozen=True)
class RoundSettings:
    """Everything a round needs besides data and KB, checked once.

    Parameters
    ----------
    k : int
        Closure depth of Eq. 1.
    seed : int
        Seeds the models, the folds, the random prior and the ``random_kb`` ablation.
    gamma : float
        γ of balanced consistency, Eq. 3.
    model : ModelConfig
        f_y and f_a (section 3.3).
    training : TrainConfig
        The optimiser and the adaptor loss of Eq. 4-5.
    variant : str
        Deduction variant of δ_KB (``integer`` or ``boolean``).
    margin : float
        A deduced sign is kept where |value| > margin.
    abstention : Abstention
        When δ_KB abstains on weak signed evidence (integer variant; off by default).
    prior : str
        The adaptor's prior w: one of `PRIORS`.
    folds : int
        Folds of f_y's out-of-fold predictions for the ``balanced`` prior.
    random_kb : bool
        Ablation: align against a randomly rewired copy of the round's KB.
    refine : RefineOptions
        Options of Eq. 6.
    route_prior : {"fitted", "none"}
        For an adaptive f_a (``model.routing``): start it at the per-input prior w(x)
        fitted on the training split (`fit_router`), or at the per-gene w.
    route_steps : int
        Adam steps of that fit.
    route_lr : float
        Its learning rate.
    """

    k: int
    seed: int
    gamma: float
    model: ModelConfig
    training: TrainConfig
    variant: str = "integer"
    margin: float = 0.0
    abstention: Abstention = field(default_factory=Abstention)
    prior: str = "balanced"
    folds: int = 5
    random_kb: bool = False
    refine: RefineOptions = field(default_factory=RefineOptions)
    route_prior: str = "fitted"
    route_steps: int = 300
    route_lr: float = 0.02

    def __post_init__(self) -> None:
        if self.prior not in PRIORS:
            raise InputError(
                f"unknown adaptor weights {self.prior!r}; expected one of {', '.join(PRIORS)}",
                source="parameters",
                column="training.adaptor.weights",
            )
        if self.route_prior not in ROUTE_PRIORS:
            raise InputError(
                f"unknown route prior {self.route_prior!r}; expected one of "
                f"{', '.join(ROUTE_PRIORS)}",
                source="parameters",
                column="training.adaptor.route_prior",
            )
        check_non_negative_int(self.route_steps, "route_steps", source="parameters")
        if not self.route_lr > 0:
            raise InputError(
                f"route_lr must be positive, got {self.route_lr}",
                source="parameters",
                column="training.adaptor.route_lr",
            )

    @classmethod
    def from_params(
        cls,
        *,
        training: Mapping[str, Any],
        knowledge_base: Mapping[str, Any],
        refinement: Mapping[str, Any],
        k: int,
        seed: int,
        gamma: float,
        n_genes: int,
    ) -> RoundSettings:
        """Settings from the ``training``, ``knowledge_base`` and ``refinement`` parameters."""
        adaptor = dict(training["adaptor"])
        chosen = {key: adaptor.pop(key) for key in ADAPTOR_OPTIONS if key in adaptor}
        routing = {key: adaptor.pop(key) for key in ROUTING_MODEL_OPTIONS if key in adaptor}
        return cls(
            k=k,
            seed=seed,
            gamma=gamma,
            model=ModelConfig(n_genes=n_genes, seed=seed, **training["model"], **routing),
            training=TrainConfig(seed=seed, **training["optimiser"], **adaptor),
            variant=knowledge_base["variant"],
            margin=knowledge_base["margin"],
            abstention=Abstention.from_params(knowledge_base.get("abstention")),
            prior=chosen.get("weights", "balanced"),
            folds=int(chosen.get("folds", 5)),
            random_kb=bool(chosen.get("random_kb", False)),
            refine=RefineOptions.from_params(refinement),
            route_prior=chosen.get("route_prior", "fitted"),
            route_steps=int(chosen.get("route_steps", 300)),
            route_lr=float(chosen.get("route_lr", 0.02)),
        )

    def deduce(self, kb: KnowledgeBase, X: np.ndarray) -> np.ndarray:
        """δ_KB(X) (Eq. 1) at this run's k, variant, margin and abstention, shape (m, n)."""
        return deduce(kb, X, self.k, self.variant, self.margin, abstention=self.abstention)
