"""Input-dependent routing for the adaptor f_a (section 3.3): what f_a reads about each
(input, gene) pair, the head that turns it into a logit, and the per-input prior that
starts it.

With ``routing: static`` f_a's logit is the per-gene bias logit(w) plus a bounded
modulation that cannot move a gene across p = 0.5, so every input routes a gene the same
way. With ``routing: adaptive`` a `RouteHead`, shared by all genes, adds an unbounded
term read from per-(input, gene) features (`ROUTE_FEATURES`): whether δ_KB(x)_g is
nonzero, the shortest path from the perturbed genes to g, the balance and the volume of
its signed walks, f_y's class probabilities and the number of perturbed genes. The
prior of Eq. 4 then becomes per input, w(x)_g = σ(logit(w_g) + r(φ(x, g))): `fit_router`
fits r on the training split, f_y predicted out of fold, by maximising a smooth F1_balance
(Eq. 3) of ȳ, as the ``balanced`` prior does per gene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import shortest_path
from torch import nn

from aligned_kedro.core._checks import check_perturbations, check_ternary
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import DEFAULT_GAMMA
from aligned_kedro.core.knowledge.deduction import closure_rows
from aligned_kedro.core.knowledge.kb import KnowledgeBase

ROUTINGS = ("static", "adaptive")
ROUTE_SCOPES = ("all", "kb_answers")
ROUTE_FEATURES = (
    "kb_answers",
    "self",
    "path_1",
    "path_2",
    "path_long",
    "balance",
    "log_walks",
    "p_kb_answer",
    "p_no_change",
    "entropy",
    "extra_perturbed",
)
F1_EPS = 1e-9
LOG_WALKS_SCALE = 10.0


@dataclass(frozen=True, eq=False)
class PathEvidence:
    """The KB's evidence for each (input, gene): signed walks of up to k+1 steps (Eq. 1)
    from the perturbed genes, split by the sign they give the gene, and the shortest path.

    Attributes
    ----------
    up, down : numpy.ndarray, shape (m, n), float32
        Walks that make gene g go up (down) under input x: the integer counts of
        R+(k) and R-(k) weighted by the perturbations' signs; up − down is the value
        δ_KB takes the sign of.
    distance : numpy.ndarray, shape (m, n), float32
        Fewest interactions from a perturbed gene to g (0 for a perturbed gene), inf
        beyond k+1.
    n_perturbed : numpy.ndarray, shape (m,), float32
        Perturbed genes of each input.
    """

    up: np.ndarray
    down: np.ndarray
    distance: np.ndarray
    n_perturbed: np.ndarray

    def rows(self, index: Any) -> PathEvidence:
        return PathEvidence(
            self.up[index], self.down[index], self.distance[index], self.n_perturbed[index]
        )

    @staticmethod
    def stack(parts: list[PathEvidence]) -> PathEvidence:
        return PathEvidence(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in _EVIDENCE_FIELDS)
        )

    def tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        return {
            name: torch.as_tensor(getattr(self, name), device=device) for name in _EVIDENCE_FIELDS
        }


_EVIDENCE_FIELDS = ("up", "down", "distance", "n_perturbed")


def path_evidence(kb: KnowledgeBase, X: Any, k: int) -> PathEvidence:
    """`PathEvidence` of the inputs X under the KB at closure depth k.

    Only the closure rows of the genes perturbed somewhere in X are computed
    (`closure_rows`), and the shortest paths by breadth-first search from those genes.

    Parameters
    ----------
    kb : KnowledgeBase
        n genes.
    X : array-like, shape (m, n)
        Perturbations in {-1, 0, 1}.
    k : int
        Closure depth: walks of k+1 steps.

    Returns
    -------
    PathEvidence
    """
    X = check_perturbations(X, kb.n_genes, name="X")
    perturbed = np.flatnonzero(np.abs(X).sum(0))
    P, N = closure_rows(kb, perturbed, k)
    Xp = X[:, perturbed].astype(np.float64)
    raise_, lower = np.clip(Xp, 0, None), np.clip(-Xp, 0, None)
    up = raise_ @ P + lower @ N
    down = raise_ @ N + lower @ P
    distance = np.full(X.shape, np.inf)
    graph = sp.csr_matrix(abs(kb.r_pos) + abs(kb.r_neg))
    graph.setdiag(0)
    graph.eliminate_zeros()
    steps = shortest_path(graph, unweighted=True, indices=perturbed) if len(perturbed) else None
    for j in range(len(perturbed)):
        rows = np.flatnonzero(Xp[:, j])
        distance[rows] = np.minimum(distance[rows], steps[j])
    distance[distance > k + 1] = np.inf
    return PathEvidence(
        up=up.astype(np.float32),
        down=down.astype(np.float32),
        distance=distance.astype(np.float32),
        n_perturbed=np.count_nonzero(X, axis=1).astype(np.float32),
    )


def route_features(
    kb_pred: torch.Tensor, probs: torch.Tensor, evidence: dict[str, torch.Tensor]
) -> torch.Tensor:
    """φ(x, g), the features f_a's `RouteHead` reads, in `ROUTE_FEATURES` order.

    Parameters
    ----------
    kb_pred : torch.Tensor, shape (m, n)
        δ_KB(x) in {-1, 0, 1}.
    probs : torch.Tensor, shape (m, n, 3)
        f_y's class probabilities (classes -1, 0, 1); no gradient flows through them.
    evidence : dict of str to torch.Tensor
        `PathEvidence.tensors` of the same rows.

    Returns
    -------
    torch.Tensor, shape (m, n, len(ROUTE_FEATURES)), float32
    """
    probs = probs.detach().float()
    answers = (kb_pred != 0).float()
    distance = evidence["distance"]
    walks = evidence["up"] + evidence["down"]
    balance = torch.where(
        walks > 0, (evidence["up"] - evidence["down"]).abs() / walks.clamp(min=1.0), 0.0
    )
    p_answer = probs.gather(-1, (kb_pred.long() + 1).unsqueeze(-1)).squeeze(-1)
    entropy = -(probs * probs.clamp(min=1e-12).log()).sum(-1) / math.log(3.0)
    extra = (evidence["n_perturbed"] - 1).clamp(min=0.0)[:, None].expand_as(answers)
    columns = [
        answers,
        (distance == 0).float(),
        (distance == 1).float(),
        (distance == 2).float(),
        ((distance >= 3) & torch.isfinite(distance)).float(),
        balance * answers,
        torch.log1p(walks) / LOG_WALKS_SCALE,
        p_answer,
        probs[..., 1],
        entropy,
        extra,
    ]
    return torch.stack(columns, dim=-1)


class RouteHead(nn.Module):
    """r(φ): Linear(F, h) → ReLU → Linear(h, 1), shared by every gene; the last layer
    starts at zero, so an untrained head leaves f_a at its prior. With `scope`
    ``kb_answers`` r is 0 where δ_KB(x)_g = 0 (the first feature), so the head re-routes
    only the outputs the KB answers; the scope is part of the state (buffer
    ``answers_only``), so a fitted prior carries it."""

    def __init__(self, hidden: int, scope: str = "all") -> None:
        super().__init__()
        if scope not in ROUTE_SCOPES:
            raise InputError(
                f"route scope must be one of {list(ROUTE_SCOPES)}, got {scope!r}",
                source="adaptor",
            )
        self.net = nn.Sequential(
            nn.Linear(len(ROUTE_FEATURES), hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )
        self.register_buffer("answers_only", torch.tensor(float(scope == "kb_answers")))
        with torch.no_grad():
            self.net[-1].weight.zero_()
            self.net[-1].bias.zero_()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        r = self.net(features).squeeze(-1)
        if bool(self.answers_only):
            return r * features[..., ROUTE_FEATURES.index("kb_answers")]
        return r


def soft_balanced_f1(
    p_kb: torch.Tensor,
    y: torch.Tensor,
    y_hat: torch.Tensor,
    kb_pred: torch.Tensor,
    gamma: float = DEFAULT_GAMMA,
) -> torch.Tensor:
    """F1_balance (Eq. 3) of ȳ in expectation over a ~ Bernoulli(p_kb): macro F1 from
    expected confusion counts, against y (data) and against δ (knowledge).

    Parameters
    ----------
    p_kb : torch.Tensor, shape (m, n)
        Probability that each output takes δ.
    y, y_hat, kb_pred : torch.Tensor, shape (m, n)
        Labels, f_y's answer and δ_KB(x), in {-1, 0, 1}.
    gamma : float

    Returns
    -------
    torch.Tensor, scalar
        Differentiable in `p_kb`.
    """

    def macro(truth: torch.Tensor) -> torch.Tensor:
        scores = []
        for label in (-1, 0, 1):
            predicted = p_kb * (kb_pred == label) + (1 - p_kb) * (y_hat == label)
            actual = (truth == label).float()
            tp = (predicted * actual).sum()
            scores.append(2 * tp / (predicted.sum() + actual.sum() + F1_EPS))
        return torch.stack(scores).mean()

    data, knowledge = macro(y), macro(kb_pred)
    return (
        0.5 * data.clamp(min=F1_EPS) ** -gamma + 0.5 * knowledge.clamp(min=F1_EPS) ** -gamma
    ) ** (-1.0 / gamma)


def fit_router(
    Y: Any,
    y_hat: Any,
    probs: Any,
    kb_pred: Any,
    evidence: PathEvidence,
    bias: Any,
    *,
    hidden: int = 16,
    scope: str = "all",
    steps: int = 300,
    lr: float = 0.02,
    gamma: float = DEFAULT_GAMMA,
    seed: int = 0,
    measured: Any = None,
) -> dict[str, torch.Tensor]:
    """The per-input prior's head r: maximise the smooth F1_balance (`soft_balanced_f1`)
    of ȳ with p_kb = σ(bias_g + r(φ(x, g))) on labelled rows by Adam, the per-gene bias
    fixed. Pass the training split with ŷ and the probabilities predicted out of fold.

    Parameters
    ----------
    Y, y_hat, kb_pred : array-like, shape (m, n)
        Labels, f_y's out-of-fold answer and δ_KB(x), in {-1, 0, 1}.
    probs : array-like, shape (m, n, 3)
        f_y's out-of-fold class probabilities.
    evidence : PathEvidence
        Of the same rows.
    bias : array-like, shape (n,)
        logit(w) of the per-gene prior (`adaptor_bias`).
    hidden : int
        The head's width.
    scope : {"all", "kb_answers"}
        The outputs the head may re-route (`RouteHead`).
    steps, lr : int, float
        Adam's steps and learning rate.
    gamma : float
    seed : int
        Seeds the head's first layer.
    measured : array-like of bool, shape (n,), optional
        The genes the score reads (all when omitted).

    Returns
    -------
    dict of str to torch.Tensor
        The fitted `RouteHead`'s state dict.
    """
    source = "route prior"
    Y = check_ternary(Y, "Y", source=source)
    shape = Y.shape
    tensors = [
        torch.as_tensor(check_ternary(v, name, shape=shape, source=source, dtype=np.int64))
        for v, name in ((Y, "Y"), (y_hat, "y_hat"), (kb_pred, "kb_pred"))
    ]
    probs_t = torch.as_tensor(np.asarray(probs, dtype=np.float32))
    if probs_t.shape != (*shape, 3):
        raise InputError(f"probs has shape {tuple(probs_t.shape)}, expected {(*shape, 3)}")
    bias_t = torch.as_tensor(np.asarray(bias, dtype=np.float32))
    if bias_t.shape != (shape[1],):
        raise InputError(f"bias has shape {tuple(bias_t.shape)}, expected ({shape[1]},)")
    columns = slice(None) if measured is None else torch.as_tensor(np.asarray(measured, bool))
    features = route_features(tensors[2], probs_t, evidence.tensors(torch.device("cpu")))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = RouteHead(hidden, scope)
    optimiser = torch.optim.Adam(head.parameters(), lr=lr)
    y, h, d = (t[:, columns] for t in tensors)
    for _ in range(steps):
        p_kb = torch.sigmoid(bias_t + head(features))[:, columns]
        loss = -soft_balanced_f1(p_kb, y, h, d, gamma)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return {name: value.detach().clone() for name, value in head.state_dict().items()}


@dataclass(frozen=True, eq=False)
class RouteInputs:
    """What an adaptive f_a trains on besides the inputs of Eq. 5.

    Attributes
    ----------
    evidence_l : PathEvidence
        The KB's path evidence for the labelled inputs X_l.
    evidence_u : PathEvidence, optional
        For the unlabelled inputs X_u (required when X_u has rows).
    prior : dict of str to torch.Tensor, optional
        The per-input prior's `RouteHead` state (`fit_router`): f_a starts at w(x) and
        C_w pulls towards it. None: the prior is the per-gene w.
    """

    evidence_l: PathEvidence
    evidence_u: PathEvidence | None = None
    prior: dict[str, torch.Tensor] | None = None

    def evidence(self, m_l: int, m_u: int) -> PathEvidence:
        """The evidence of X_l's then X_u's rows, checked against their counts."""
        parts = [self.evidence_l] + ([self.evidence_u] if m_u else [])
        if m_u and self.evidence_u is None:
            raise InputError("X_u is given without its path evidence", source="evidence")
        for part, m, name in zip(parts, (m_l, m_u), ("X_l", "X_u"), strict=False):
            if len(part.up) != m:
                raise InputError(
                    f"the path evidence has {len(part.up)} rows, {name} has {m}",
                    source="evidence",
                )
        return PathEvidence.stack(parts)


def prior_head(state: dict[str, torch.Tensor], device: torch.device) -> RouteHead:
    """A frozen `RouteHead` with the fitted prior's state, on `device`."""
    with torch.random.fork_rng(devices=[]):
        head = RouteHead(
            state["net.0.weight"].shape[0],
            "kb_answers" if bool(state.get("answers_only", 0.0)) else "all",
        )
    head.load_state_dict(state)
    head.requires_grad_(False)
    return head.to(device)
