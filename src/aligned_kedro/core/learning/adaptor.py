"""The adaptor f_a of section 3.3: weight vector w (appendix E.3, or the balanced routing
of out-of-fold f_y against δ), loss L_a (Eq. 4), the combination ȳ and the REINFORCE
estimate of Eq. 5.

Loss terms take numpy arrays or torch tensors of shape (..., n) and return one value per
sample (shape (...)); `a` is the 0/1 indicator (1 = use the KB answer δ), `y_hat` the
neural prediction and `kb_pred` the deduction δ_KB(x), both in {-1, 0, 1}.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from aligned_kedro.core._checks import check_label_matrix, check_ternary
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import DEFAULT_GAMMA, balanced_f1, class_f1

DEFAULT_C_L = 5.0
DEFAULT_C_W = 10.0
DEFAULT_THETA_SHARE = 0.3
W_CLIP = (0.02, 0.98)
ADVANTAGE_EPS = 1e-8

Array = Any


def _is_torch(*values: Array) -> bool:
    return any(isinstance(v, torch.Tensor) for v in values)


def _float(value: Array, like: Array) -> Array:
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(value, dtype=torch.float32, device=like.device)
    return np.asarray(value, dtype=np.float64)


def weight_vector(
    X_train: Array,
    Y_train: Array,
    kb_pred_train: Array,
    kb_degree: Array,
    go_count: Array | None = None,
    *,
    terms: Literal["e3", "agreement"] = "e3",
) -> np.ndarray:
    """Per-gene prior w of Eq. 4 (appendix E.3), clipped to [0, 1].

    `terms="e3"`: w = 0.5 x share of training samples with y_g == δ_g + 0.2 x KB degree /
    max degree + 0.3 x GO annotation count / max count (a term is 0 when its maximum is 0;
    `go_count=None` means no GO annotations). `terms="agreement"`: the first term at full
    weight, w = share of training samples with y_g == δ_g. Pass ONLY the training split:
    the reference implementation computed the first term on test labels, which leaks them
    into the adaptor's prior. X_train is used only to check that the three matrices match.

    Parameters
    ----------
    X_train : array-like, shape (m, n)
        Training inputs x.
    Y_train : array-like, shape (m, n)
        Their labels y in {-1, 0, 1}.
    kb_pred_train : array-like, shape (m, n)
        δ_KB(x) of the training inputs, in {-1, 0, 1}.
    kb_degree : array-like, shape (n,)
        Each gene's degree in the KB, >= 0.
    go_count : array-like, shape (n,), optional
        GO annotations per gene, >= 0.
    terms : {"e3", "agreement"}

    Returns
    -------
    numpy.ndarray, shape (n,), float64
        w in [0, 1].
    """
    source = "weight vector"
    Y = check_label_matrix(Y_train, "Y_train", source=source)
    X = np.asarray(X_train)
    if X.shape != Y.shape:
        raise InputError(f"X_train has shape {X.shape}, expected {Y.shape}", source=source)
    delta = check_ternary(kb_pred_train, "kb_pred_train", shape=Y.shape, source=source)
    n = Y.shape[1]
    prior = []
    for name, values in (("kb_degree", kb_degree), ("go_count", go_count)):
        vector = np.zeros(n) if values is None else np.asarray(values, dtype=np.float64)
        if vector.shape != (n,):
            raise InputError(f"{name} has shape {vector.shape}, expected ({n},)", source=source)
        if not np.isfinite(vector).all() or (vector < 0).any():
            gene = int(np.flatnonzero(~np.isfinite(vector) | (vector < 0))[0])
            raise InputError(
                f"{name} must be finite and non-negative; bad value at gene index {gene}",
                source=source,
            )
        top = vector.max(initial=0.0)
        prior.append(vector / top if top > 0 else np.zeros(n))
    agreement = np.equal(Y, delta).mean(axis=0)
    if terms == "agreement":
        return agreement
    if terms != "e3":
        raise InputError(f"terms must be e3 or agreement, got {terms!r}", source=source)
    return np.clip(0.5 * agreement + 0.2 * prior[0] + 0.3 * prior[1], 0.0, 1.0)


def _gene_confusions(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """n x 3 x 3 confusion counts per gene (rows truth, columns prediction, order -1, 0, 1)."""
    cell = (3 * (truth.astype(np.int8) + 1) + (pred.astype(np.int8) + 1)).astype(np.int8)
    counts = np.stack([np.count_nonzero(cell == code, axis=0) for code in range(9)], axis=1)
    return counts.reshape(-1, 3, 3).astype(np.float64)


def _confusion_score(data: np.ndarray, knowledge: np.ndarray, gamma: float) -> float:
    """F1_balance (Eq. 3) from the 3 x 3 confusion counts against y and against δ."""
    return balanced_f1(float(class_f1(data).mean()), float(class_f1(knowledge).mean()), gamma)


def balanced_routing(
    Y: Array,
    y_neural: Array,
    kb_pred: Array,
    gamma: float = DEFAULT_GAMMA,
    max_passes: int = 10,
) -> tuple[np.ndarray, float]:
    """Per-gene choice w in {0, 1} (1 = δ_KB) that F1_balance (Eq. 3) of ȳ = combine(w, ŷ,
    δ) cannot improve by changing one gene, and that score.

    Coordinate ascent from all-neural, genes in order, until a pass changes nothing or
    after `max_passes`: data consistency is scored against Y, knowledge consistency against
    δ, both by per-gene confusion counts, so one pass costs O(n). Pass the labelled
    training rows with `y_neural` predicted out of fold; ties keep the current choice.

    Parameters
    ----------
    Y : array-like, shape (m, n)
        Labels y in {-1, 0, 1}.
    y_neural : array-like, shape (m, n)
        ŷ of f_y, in {-1, 0, 1}, predicted out of fold.
    kb_pred : array-like, shape (m, n)
        δ_KB(x), in {-1, 0, 1}.
    gamma : float
        γ of Eq. 3, > 1.
    max_passes : int

    Returns
    -------
    w : numpy.ndarray, shape (n,), float64
        1.0 where gene g takes δ, else 0.0.
    score : float
        F1_balance of the routing on these rows.
    """
    source = "balanced routing"
    Y = check_label_matrix(Y, "Y", source=source)
    H = check_ternary(y_neural, "y_neural", shape=Y.shape, source=source)
    K = check_ternary(kb_pred, "kb_pred", shape=Y.shape, source=source)
    data = (_gene_confusions(Y, H), _gene_confusions(Y, K))
    knowledge = (_gene_confusions(K, H), _gene_confusions(K, K))
    w = np.zeros(Y.shape[1], dtype=bool)
    totals = [data[0].sum(axis=0), knowledge[0].sum(axis=0)]

    def score(d: np.ndarray, k: np.ndarray) -> float:
        return _confusion_score(d, k, gamma)

    best = score(*totals)
    for _ in range(max_passes):
        changed = False
        for g in range(Y.shape[1]):
            step = -1.0 if w[g] else 1.0
            d = totals[0] + step * (data[1][g] - data[0][g])
            k = totals[1] + step * (knowledge[1][g] - knowledge[0][g])
            candidate = score(d, k)
            if candidate > best:
                totals, best, w[g], changed = [d, k], candidate, not w[g], True
        if not changed:
            break
    return w.astype(np.float64), best


def oracle_routing(
    Y: Array,
    y_neural: Array,
    kb_pred: Array,
    gamma: float = DEFAULT_GAMMA,
    grid: int = 100,
    max_passes: int = 20,
) -> tuple[np.ndarray, float]:
    """The best routing of each output between ŷ and δ chosen WITH the labels Y: an upper
    bound on what any adaptor could reach with this f_y and this KB, never a method.

    F1_balance (Eq. 3) depends on a routing only through how many outputs of each kind
    (y, ŷ, δ) take δ, so the search runs over how many outputs of each of the 27 kinds
    are routed to the KB (counts in `grid` steps from none to all): from each of three
    starts ("δ where δ = y", all ŷ, all δ) it changes one kind's count at a time while
    that improves the score (coordinate ascent, at most `max_passes` passes), and keeps
    the best. Within a kind, the first outputs in row-major order take δ.

    Parameters
    ----------
    Y : array-like, shape (m, n)
        Labels y in {-1, 0, 1}.
    y_neural : array-like, shape (m, n)
        ŷ of f_y.
    kb_pred : array-like, shape (m, n)
        δ_KB(x).
    gamma : float
    grid, max_passes : int

    Returns
    -------
    a : numpy.ndarray, shape (m, n), int8
        1 where the output takes δ.
    score : float
        F1_balance of ȳ under `a`.
    """
    source = "oracle routing"
    Y = check_label_matrix(Y, "Y", source=source)
    H = check_ternary(y_neural, "y_neural", shape=Y.shape, source=source)
    K = check_ternary(kb_pred, "kb_pred", shape=Y.shape, source=source)
    kinds = 9 * (Y.astype(np.int64) + 1) + 3 * (H.astype(np.int64) + 1) + K.astype(np.int64) + 1
    counts = np.bincount(kinds.ravel(), minlength=27).astype(np.float64)
    index = np.arange(27)
    y, h, k = index // 9, index // 3 % 3, index % 3
    # confusion cells (truth * 3 + prediction) each kind adds to, routed to δ or to ŷ
    cells = {
        "data_kb": y * 3 + k,
        "data_neural": y * 3 + h,
        "kb_kb": k * 3 + k,
        "kb_neural": k * 3 + h,
    }

    def confusion(routed: np.ndarray, kb: str, neural: str) -> np.ndarray:
        return (
            np.bincount(cells[kb], routed, 9) + np.bincount(cells[neural], counts - routed, 9)
        ).reshape(3, 3)

    def score(routed: np.ndarray) -> float:
        data = confusion(routed, "data_kb", "data_neural")
        return _confusion_score(data, confusion(routed, "kb_kb", "kb_neural"), gamma)

    free = np.flatnonzero(counts * (h != k))
    choices = {kind: np.unique(np.round(np.linspace(0, counts[kind], grid + 1))) for kind in free}
    best, routed = -1.0, counts * 0
    for start in ((y == k) * counts, counts * 0, counts.copy()):
        current, value = start.astype(np.float64), score(start)
        for _ in range(max_passes):
            changed = False
            for kind in free:
                for count in choices[kind]:
                    old, current[kind] = current[kind], count
                    candidate = score(current)
                    if candidate > value + 1e-12:
                        value, changed = candidate, True
                    else:
                        current[kind] = old
            if not changed:
                break
        if value > best:
            best, routed = value, current
    a = np.zeros(Y.shape, dtype=np.int8)
    flat_kinds, flat_a = kinds.ravel(), a.reshape(-1)
    for kind in np.flatnonzero(routed):
        flat_a[np.flatnonzero(flat_kinds == kind)[: int(routed[kind])]] = 1
    data_counts = _gene_confusions(Y, combine(a, H, K)).sum(axis=0)
    kb_counts = _gene_confusions(K, combine(a, H, K)).sum(axis=0)
    return a, _confusion_score(data_counts, kb_counts, gamma)


def adaptor_bias(w: Array) -> np.ndarray:
    """logit(w) with w clipped to [0.02, 0.98]: the bias that makes the initial sampling
    distribution of f_a equal to w (section 3.3)."""
    clipped = np.clip(np.asarray(w, dtype=np.float64), *W_CLIP)
    return np.log(clipped / (1.0 - clipped))


def combine(a: Array, y_hat: Array, kb_pred: Array) -> Array:
    """ȳ (section 3.3): δ_KB(x) where a = 1, ŷ where a = 0.

    Parameters
    ----------
    a : array-like or torch.Tensor, shape (..., n)
        1 where the KB answers.
    y_hat : array-like or torch.Tensor, shape (..., n)
        ŷ, the neural prediction.
    kb_pred : array-like or torch.Tensor, shape (..., n)
        δ_KB(x).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., n)
        ȳ, of `kb_pred`'s dtype; a tensor when any input is one.
    """
    if _is_torch(a, y_hat, kb_pred):
        kb_pred = torch.as_tensor(kb_pred)
        y_hat = torch.as_tensor(y_hat, device=kb_pred.device)
        a = torch.as_tensor(a, device=kb_pred.device)
        return torch.where(a.bool(), kb_pred, y_hat.to(kb_pred.dtype))
    kb_pred = np.asarray(kb_pred)
    return np.where(np.asarray(a).astype(bool), kb_pred, np.asarray(y_hat).astype(kb_pred.dtype))


def inconsistency(a: Array, y_hat: Array, kb_pred: Array) -> Array:
    """Inc(a, x, ŷ, KB) = ||δ_KB(x) − ȳ||_0 per sample (section 3.3)."""
    differs = combine(a, y_hat, kb_pred) != kb_pred
    return differs.sum(-1)


def length_penalty(a: Array, theta: float) -> Array:
    """L_len(a) = max(||a||_0 − θ, 0) per sample (section 3.3); θ is a gene count."""
    used = (a != 0).sum(-1)
    if isinstance(used, torch.Tensor):
        return torch.clamp(used.float() - theta, min=0.0)
    return np.maximum(used - theta, 0.0)


def weight_penalty(a: Array, w: Array) -> Array:
    """L_weight(a) = wᵀ(1 − a) + (1 − w)ᵀa per sample (section 3.3)."""
    a_f = _float(a, a)
    w_f = _float(w, a)
    return (w_f * (1 - a_f) + (1 - w_f) * a_f).sum(-1)


def adaptor_loss(
    a: Array,
    y_hat: Array,
    kb_pred: Array,
    w: Array,
    c_l: float = DEFAULT_C_L,
    c_w: float = DEFAULT_C_W,
    theta_share: float = DEFAULT_THETA_SHARE,
    use_inc: bool = True,
    use_len: bool = True,
) -> Array:
    """L_a = Inc + C_l L_len + C_w L_weight per sample (Eq. 4), θ = theta_share · n.

    `use_inc` / `use_len` switch the Inc and L_len terms off for ablations.
    """
    theta = theta_share * np.shape(a)[-1]
    # Eq. 4: L_a = Inc + C_l L_len + C_w L_weight
    loss = c_w * weight_penalty(a, w)
    if use_inc:
        loss = loss + inconsistency(a, y_hat, kb_pred)
    if use_len:
        loss = loss + c_l * length_penalty(a, theta)
    return loss


def gene_rewards(
    a: torch.Tensor,
    y_hat: torch.Tensor,
    kb_pred: torch.Tensor,
    w: torch.Tensor,
    c_l: float = DEFAULT_C_L,
    c_w: float = DEFAULT_C_W,
    theta_share: float = DEFAULT_THETA_SHARE,
    use_inc: bool = True,
    use_len: bool = True,
) -> torch.Tensor:
    """Per-sample, per-gene share r_g of L_a (Eq. 4), m x n.

    Inc and L_weight are sums over genes of terms that depend only on a_g, so gene g is
    credited with its own term. For the L_len hinge, gene g is credited with
    hinge(||a||_0) − hinge(||a||_0 − a_g): C_l where a_g = 1 and the hinge is active, 0
    where a_g = 0. Every part left out depends only on a_{−g}, so pairing r_g with
    ∇log p(a_g) keeps the REINFORCE estimate unbiased at far lower variance than pairing
    every gene with the whole L_a.
    """
    a = a.float()
    w = w.float()
    # Eq. 4 per gene: C_w (w_g (1 - a_g) + (1 - w_g) a_g), Inc's [a_g = 0, ŷ_g != δ_g],
    # and L_len's hinge share
    reward = c_w * w + a * (c_w * (1 - 2 * w))
    if use_inc:
        reward = reward + (1 - a) * (y_hat != kb_pred)
    if use_len:
        reward = reward + c_l * hinge_credit(a, theta_share * a.shape[-1])
    return reward


def hinge_credit(a: torch.Tensor, theta: float) -> torch.Tensor:
    """Gene g's share of L_len: hinge(||a||_0) − hinge(||a||_0 − a_g), m x n."""
    a = a.float()
    used = a.sum(-1, keepdim=True)
    return torch.clamp(used - theta, min=0.0) - torch.clamp(used - a - theta, min=0.0)


def normalise_advantages(
    rewards: torch.Tensor, eps: float = ADVANTAGE_EPS, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """(r − b) / (s + eps): b = per-gene mean over the batch, s = std of r − b over the
    whole batch; with `weights` (m,), each row counts as that many rows.

    The baseline removes each gene's typical loss (a leave-one-out mean differs from it
    only by the factor m / (m − 1), which the scale absorbs); the scale makes advantages
    O(1) whatever n, C_l and C_w are (raw L_a grows with n: the reference's raw rewards
    reached 1e6–1e8 and its adaptor collapsed to all-or-nothing columns). One global
    scale keeps the relative weight of genes. A constant batch, or a batch of one
    sample, gives all-zero advantages.
    """
    if weights is None:
        centred = rewards - rewards.mean(0, keepdim=True)
        if centred.numel() < 2:
            return torch.zeros_like(centred)
        return centred / (centred.std() + eps)
    column = weights[:, None]
    centred = rewards - (column * rewards).sum(0, keepdim=True) / weights.sum()
    size = weights.sum() * rewards.shape[-1]
    if float(size) < 2:
        return torch.zeros_like(centred)
    return centred / (torch.sqrt((column * centred**2).sum() / (size - 1)) + eps)


def reinforce_loss(
    logits_a: torch.Tensor,
    a: torch.Tensor,
    advantages: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Surrogate of Eq. 5's second term: mean over samples and genes of A · log f_a(a | x),
    with `weights` (m,) a weighted mean over samples.

    Its gradient is the REINFORCE estimate of ∇E[L_a]; `a` and the advantages A carry no
    gradient.
    """
    log_prob = -torch.nn.functional.binary_cross_entropy_with_logits(
        logits_a, a.float(), reduction="none"
    )
    terms = advantages.detach() * log_prob
    if weights is None:
        return terms.mean()
    return (weights[:, None] * terms).sum() / (weights.sum() * terms.shape[-1])


def route_switch_share(a: Array, kb_pred: Array) -> float:
    """Share of the genes with a KB answer (δ ≠ 0) for at least two inputs whose route
    differs between those inputs: 0 for any per-gene (static) routing; 0 when no gene
    qualifies.

    Parameters
    ----------
    a : array-like, shape (m, n)
        The adaptor's 0/1 choice.
    kb_pred : array-like, shape (m, n)
        δ_KB(x).

    Returns
    -------
    float
    """
    a = np.asarray(a).astype(bool)
    answers = np.asarray(kb_pred) != 0
    qualifies = answers.sum(axis=0) >= 2
    if not qualifies.any():
        return 0.0
    to_kb = (a & answers).sum(axis=0)[qualifies]
    return float(((to_kb > 0) & (to_kb < answers.sum(axis=0)[qualifies])).mean())


def kb_usage_by_input(a: Array) -> np.ndarray:
    """Share of each input's outputs routed to the knowledge base, shape (m,)."""
    a = np.asarray(a, dtype=np.float64)
    return a.mean(axis=1) if a.size else np.zeros(len(a))


def kb_usage(a: Array) -> float:
    """Share of outputs routed to the knowledge base (mean of a)."""
    if isinstance(a, torch.Tensor):
        return float(a.float().mean()) if a.numel() else 0.0
    a = np.asarray(a)
    return float(a.mean()) if a.size else 0.0
