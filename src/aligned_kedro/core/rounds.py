"""Algorithm 1: rounds of align (stage A, Eq. 5) and refine (stage R, Eq. 6), the adaptor's
prior w (Eq. 4) and the scores of every stage (Eq. 3).

A notebook runs A-R-A-R without Kedro::

    data = RoundData(X, Y, kb_pred, X_u, train, test, genes=genes)
    settings = RoundSettings.from_params(training=..., knowledge_base=..., refinement=...,
                                         k=4, seed=0, gamma=5.0, n_genes=len(genes))
    w = adaptor_prior(data, kb, settings).w
    first = align_round(1, data, kb, w, settings)
    refined = refine_round(1, data, kb, first.model, settings)
    second = align_round(2, data, refined.kb, w, settings, previous=first.model)
    refine_round(2, data, refined.kb, second.model, settings)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aligned_kedro.core._checks import PERTURBATION_HINT, check_ternary
from aligned_kedro.core.data.splits import group_folds, perturbation_groups
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import consistency_scores, macro_f1
from aligned_kedro.core.evaluation.refinement_benchmark import corrupt
from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import KnowledgeBase
from aligned_kedro.core.knowledge.refinement import RefineOptions, RefineResult, refine
from aligned_kedro.core.learning.adaptor import balanced_routing, kb_usage, weight_vector
from aligned_kedro.core.learning.models import ModelConfig
from aligned_kedro.core.learning.training import (
    TrainConfig,
    TrainedModel,
    out_of_fold_predictions,
    predict,
    train,
)

PRIORS = ("balanced", "e3", "agreement", "constant", "random")
BASELINES = ("no_change", "kb_only", "linear", "neural_only")
STEPS = ("align", "refine")
ADAPTOR_OPTIONS = ("weights", "folds", "random_kb")

Metrics = dict[str, Any]


def round_namespace(round_number: int) -> str:
    """``round_<r>``: the prefix of round r's stages, datasets and metrics."""
    return f"round_{round_number}"


def stage_name(step: str, round_number: int | None = None) -> str:
    """``round_<r>.<step>`` for a stage of round r (align or refine), ``baseline.<step>``
    for a baseline: the prefix of the stage's metrics and its row of the run summary."""
    if round_number is None:
        if step not in BASELINES:
            raise InputError(f"unknown baseline {step!r}; expected one of {list(BASELINES)}")
        return f"baseline.{step}"
    if step not in STEPS:
        raise InputError(f"unknown stage {step!r}; expected one of {list(STEPS)}")
    return f"{round_namespace(round_number)}.{step}"


def stage_names(rounds: int) -> list[str]:
    """Every stage of a run of `rounds` rounds: the baselines, then A and R of each round."""
    names = [stage_name(baseline) for baseline in BASELINES]
    return names + [stage_name(step, r) for r in range(1, rounds + 1) for step in STEPS]


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
    """

    X: np.ndarray
    Y: np.ndarray
    kb_pred: np.ndarray
    X_u: np.ndarray
    train: np.ndarray
    test: np.ndarray
    genes: tuple[str, ...]
    rows: tuple[Hashable, ...] = ()

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
        checked = {"X": X, "Y": Y, "kb_pred": kb_pred, "X_u": X_u, "genes": genes, "rows": rows}
        checked["train"] = _row_indices(self.train, len(X), "train")
        checked["test"] = _row_indices(self.test, len(X), "test")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def n_genes(self) -> int:
        return len(self.genes)

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
    prior : str
        The adaptor's prior w: one of `PRIORS`.
    folds : int
        Folds of f_y's out-of-fold predictions for the ``balanced`` prior.
    random_kb : bool
        Ablation: align against a randomly rewired copy of the round's KB.
    refine : RefineOptions
        Options of Eq. 6.
    """

    k: int
    seed: int
    gamma: float
    model: ModelConfig
    training: TrainConfig
    variant: str = "integer"
    margin: float = 0.0
    prior: str = "balanced"
    folds: int = 5
    random_kb: bool = False
    refine: RefineOptions = field(default_factory=RefineOptions)

    def __post_init__(self) -> None:
        if self.prior not in PRIORS:
            raise InputError(
                f"unknown adaptor weights {self.prior!r}; expected one of {', '.join(PRIORS)}",
                source="parameters",
                column="training.adaptor.weights",
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
        return cls(
            k=k,
            seed=seed,
            gamma=gamma,
            model=ModelConfig(n_genes=n_genes, seed=seed, **training["model"]),
            training=TrainConfig(seed=seed, **training["optimiser"], **adaptor),
            variant=knowledge_base["variant"],
            margin=knowledge_base["margin"],
            prior=chosen.get("weights", "balanced"),
            folds=int(chosen.get("folds", 5)),
            random_kb=bool(chosen.get("random_kb", False)),
            refine=RefineOptions.from_params(refinement),
        )

    def deduce(self, kb: KnowledgeBase, X: np.ndarray) -> np.ndarray:
        """δ_KB(X) (Eq. 1) at this run's k, variant and margin, shape (m, n)."""
        return deduce(kb, X, self.k, self.variant, self.margin)


def score_stage(
    stage: str,
    data: RoundData,
    outputs: Mapping[str, np.ndarray],
    gamma: float,
    current_kb: np.ndarray | None = None,
) -> Metrics:
    """Scores of a stage on the test split (Eq. 3): consistency with the data and with the
    ORIGINAL KB, the share routed to the KB, and with `current_kb` (δ of the stage's own KB
    on the test rows) ``kb_f1_current`` and ``balanced_f1_current``.

    Parameters
    ----------
    stage : str
        Prefix of every metric (`stage_name`).
    data : RoundData
    outputs : mapping
        ``y_bar`` (ȳ) and ``a`` (the adaptor's 0/1 choice), each (m_test, n).
    gamma : float
    current_kb : numpy.ndarray, shape (m_test, n), optional

    Returns
    -------
    dict
        ``<stage>.<score>`` to value.
    """
    _, y, kb_pred = data.part("test")
    scores = consistency_scores(y, outputs["y_bar"], kb_pred, gamma)
    if current_kb is not None:
        current = consistency_scores(y, outputs["y_bar"], current_kb, gamma)
        scores["kb_f1_current"] = current["kb_f1"]
        scores["balanced_f1_current"] = current["balanced_f1"]
    scores["kb_usage"] = kb_usage(outputs["a"])
    return {f"{stage}.{name}": value for name, value in scores.items()}


@dataclass(frozen=True, eq=False)
class Prior:
    """The adaptor's prior w of Eq. 4, the KB degree it may use, and how it was made."""

    w: np.ndarray
    kb_degree: np.ndarray
    stats: dict[str, float]


def kb_degree(kb: KnowledgeBase) -> np.ndarray:
    """Edges of the KB's table at each gene, as regulator or target; shape (n,), float64."""
    edges = kb.edges()
    ends = np.concatenate([edges["regulator"].map(kb.index), edges["target"].map(kb.index)])
    return np.bincount(ends.astype(np.intp), minlength=kb.n_genes).astype(np.float64)


def adaptor_prior(
    data: RoundData,
    kb: KnowledgeBase,
    settings: RoundSettings,
    *,
    go_count: np.ndarray | None = None,
    edge_index: Any = None,
    edge_weight: Any = None,
    logger: logging.Logger | None = None,
) -> Prior:
    """The prior w of Eq. 4 from the TRAINING split only, by ``settings.prior``:
    ``balanced`` routes each gene to f_y or δ to maximise F1_balance there, f_y predicted
    out of fold; ``e3`` (appendix E.3) and ``agreement`` (its first term) by
    `weight_vector`; ``constant`` is 0.5; ``random`` is uniform, seeded.

    Parameters
    ----------
    data : RoundData
    kb : KnowledgeBase
        The original KB, n genes.
    settings : RoundSettings
    go_count : numpy.ndarray, shape (n,), optional
        GO annotations per gene (``e3``).
    edge_index, edge_weight : optional
        The GNN's graph, (2, E) and (E,), for the out-of-fold f_y.
    logger : logging.Logger, optional

    Returns
    -------
    Prior
        ``w`` (n,), ``kb_degree`` (n,) and ``stats`` (w's mean, sd and share above 0.5;
        for ``balanced``, the folds and the training score).
    """
    X, Y, kb_pred = data.part("train")
    degree = kb_degree(kb)
    n = data.n_genes
    stats: dict[str, float] = {}
    if settings.prior == "balanced":
        y_out_of_fold, stats = _out_of_fold(data, settings, edge_index, edge_weight, logger)
        w, stats["w_balanced_f1_train"] = balanced_routing(
            Y, y_out_of_fold, kb_pred, settings.gamma
        )
    elif settings.prior == "constant":
        w = np.full(n, 0.5)
    elif settings.prior == "random":
        w = np.random.default_rng(settings.seed).uniform(size=n)
    else:
        w = weight_vector(X, Y, kb_pred, degree, go_count, terms=settings.prior)
    stats.update(
        {"w_mean": float(w.mean()), "w_sd": float(w.std()), "w_above_half": float((w > 0.5).mean())}
    )
    if logger is not None:
        logger.info("adaptor weights (%s): %s", settings.prior, stats)
    return Prior(w=w, kb_degree=degree, stats=stats)


def _out_of_fold(
    data: RoundData,
    settings: RoundSettings,
    edge_index: Any,
    edge_weight: Any,
    logger: logging.Logger | None,
) -> tuple[np.ndarray, dict[str, float]]:
    """f_y's out-of-fold predictions of the training rows: folds of rows that share no
    perturbed gene (fewer, with a warning, when the split has fewer groups), one f_y each."""
    X, Y, _ = data.part("train")
    genes = np.asarray(data.genes, dtype=object)
    rows = {str(i): list(genes[np.flatnonzero(X[i])]) for i in range(len(X))}
    n_groups = len(perturbation_groups(rows))
    n_folds = min(settings.folds, n_groups)
    if n_folds < settings.folds and logger is not None:
        logger.warning(
            "training.adaptor.folds is %d but the training split has only %d group(s) of "
            "conditions sharing perturbed genes: using %d folds",
            settings.folds,
            n_groups,
            n_folds,
        )
    folds = group_folds(rows, n_folds, settings.seed, source="conditions_split (train)")
    start = time.perf_counter()
    y_out_of_fold = out_of_fold_predictions(
        X,
        Y,
        [np.array(sorted(int(r) for r in fold)) for fold in folds],
        settings.model,
        settings.training,
        edge_index=edge_index,
        edge_weight=edge_weight,
    )
    stats = {
        "out_of_fold.folds": float(n_folds),
        "out_of_fold.folds_requested": float(settings.folds),
        "out_of_fold.data_f1": macro_f1(Y, y_out_of_fold)["f1"],
        "out_of_fold.seconds": time.perf_counter() - start,
    }
    return y_out_of_fold, stats


@dataclass(frozen=True, eq=False)
class AlignResult:
    """Stage A of a round: the trained model, its outputs on every labelled row and the
    stage's metrics."""

    model: TrainedModel
    outputs: dict[str, np.ndarray]
    metrics: Metrics


def align_round(
    round_number: int,
    data: RoundData,
    kb: KnowledgeBase,
    w: np.ndarray,
    settings: RoundSettings,
    *,
    previous: TrainedModel | None = None,
    edge_index: Any = None,
    edge_weight: Any = None,
    logger: logging.Logger | None = None,
) -> AlignResult:
    """Stage A of round r (Eq. 5). Round 1 trains f_y and f_a on D_l ∪ X_u (Algorithm 1
    line 2); round r > 1 updates the `previous` model on D_l ∪ ⟨X_u, ȳ⟩ with ȳ formed
    against the round's KB (lines 4-8). ``settings.random_kb`` (ablation, paper table 2)
    aligns against a copy of the KB with every edge moved to a random pair.

    Parameters
    ----------
    round_number : int
        r >= 1; round 1 takes no `previous` model, every later round takes one.
    data : RoundData
    kb : KnowledgeBase
        The round's KB: the original in round 1, round r-1's refined KB after.
    w : numpy.ndarray, shape (n,)
        The adaptor's prior (`adaptor_prior`).
    settings : RoundSettings
    previous : TrainedModel, optional
        Round r-1's model.
    edge_index, edge_weight : optional
        The GNN's graph, (2, E) and (E,); a `previous` model keeps its own.
    logger : logging.Logger, optional

    Returns
    -------
    AlignResult
        ``model``; ``outputs`` y_hat, a, p_a and y_bar on every row of ``data.X``, each
        (m, n); ``metrics`` named ``round_<r>.align.<score>`` (`score_stage` on the test
        rows, the current KB being the round's) and ``.train_<history>``.
    """
    if (round_number == 1) != (previous is None):
        raise InputError(
            f"round {round_number} {'takes no' if round_number == 1 else 'needs the'} "
            "previous round's model (Algorithm 1: round 1 starts fresh, later rounds continue)",
            source="align_round",
        )
    stage = stage_name("align", round_number)
    if settings.random_kb:
        kb = corrupt(kb, 1.0, settings.seed)
    x_train, y_train, _ = data.part("train")
    kb_train = settings.deduce(kb, x_train)
    kb_u = settings.deduce(kb, data.X_u)
    if previous is None:
        trained = train(
            x_train,
            y_train,
            kb_train,
            data.X_u,
            kb_u,
            w,
            settings.model,
            settings.training,
            edge_index=edge_index,
            edge_weight=edge_weight,
            logger=logger,
        )
    else:
        y_bar_u = predict(previous, data.X_u, kb_u)["y_bar"]
        trained = train(
            np.vstack([x_train, data.X_u]),
            np.vstack([y_train, y_bar_u]),
            np.vstack([kb_train, kb_u]),
            None,
            None,
            w,
            None,
            settings.training,
            logger=logger,
            init=previous,
        )
    deduced = settings.deduce(kb, data.X)
    outputs = predict(trained, data.X, deduced)
    test = {name: values[data.test] for name, values in outputs.items()}
    metrics = score_stage(stage, data, test, settings.gamma, current_kb=deduced[data.test])
    metrics.update({f"{stage}.train_{name}": values for name, values in trained.history.items()})
    _log(logger, stage, metrics)
    return AlignResult(model=trained, outputs=outputs, metrics=metrics)


@dataclass(frozen=True, eq=False)
class RefineRoundResult:
    """Stage R of a round: the refinement (refined KB, edge table, trace) and the stage's
    metrics."""

    refined: RefineResult
    metrics: Metrics

    @property
    def kb(self) -> KnowledgeBase:
        """The refined KB, the next round's KB."""
        return self.refined.kb


def refine_round(
    round_number: int,
    data: RoundData,
    kb: KnowledgeBase,
    model: TrainedModel,
    settings: RoundSettings,
    *,
    logger: logging.Logger | None = None,
) -> RefineRoundResult:
    """Stage R of round r: fit the round's KB to ⟨X_u ∪ X_l, ȳ⟩ (Eq. 6, Algorithm 1 line
    9), ȳ formed by the round's model against that KB, then score the model against the
    refined KB.

    Parameters
    ----------
    round_number : int
    data : RoundData
    kb : KnowledgeBase
        The round's KB (the one its align stage used, before any ``random_kb`` rewiring).
    model : TrainedModel
        The round's aligned model.
    settings : RoundSettings
    logger : logging.Logger, optional

    Returns
    -------
    RefineRoundResult
        ``refined`` (`RefineResult`: the refined KB, every edge with its status and
        support, the trace) and ``metrics`` named ``round_<r>.refine.<name>``: scores on
        the test rows (`score_stage`), the edge counts, iterations, seconds and loss.
    """
    stage = stage_name("refine", round_number)
    x_train, _, _ = data.part("train")
    x_fit = np.vstack([data.X_u, x_train])
    y_bar = predict(model, x_fit, settings.deduce(kb, x_fit))["y_bar"]
    result = refine(
        kb, x_fit, y_bar, settings.refine, k=settings.k, seed=settings.seed, logger=logger
    )
    x_test, _, _ = data.part("test")
    deduced = settings.deduce(result.kb, x_test)
    outputs = predict(model, x_test, deduced)
    metrics = score_stage(stage, data, outputs, settings.gamma, current_kb=deduced)
    metrics.update(
        {
            f"{stage}.{name}": float(v)
            for name, v in result.summary.items()
            if isinstance(v, int | float | np.number)
        }
    )
    metrics.update(
        {
            f"{stage}.iterations": result.iterations,
            f"{stage}.seconds": result.seconds,
            f"{stage}.loss": [float(v) for v in result.loss],
        }
    )
    if logger is not None:
        logger.info("%s: %s", stage, result.summary)
    return RefineRoundResult(refined=result, metrics=metrics)


def _log(logger: logging.Logger | None, stage: str, metrics: Metrics) -> None:
    if logger is not None:
        shown = {m: round(v, 4) for m, v in metrics.items() if not isinstance(v, list)}
        logger.info("%s: %s", stage, shown)


__all__ = [
    "BASELINES",
    "PRIORS",
    "AlignResult",
    "Prior",
    "RefineRoundResult",
    "RoundData",
    "RoundSettings",
    "adaptor_prior",
    "align_round",
    "kb_degree",
    "refine_round",
    "round_namespace",
    "score_stage",
    "stage_name",
    "stage_names",
]
