"""Linear baseline: the additive/linear model of Ahlmann-Eltze, Huber & Anders (2025,
Nature Methods, "Deep-learning-based gene perturbation effect prediction does not yet
outperform simple linear baselines"), adapted to ternary labels (section 2.1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from aligned_kedro.core._checks import (
    check_gene_mask,
    check_label_matrix,
    check_perturbations,
    check_positive_int,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import class_f1

N_THRESHOLDS = 200
TAU_BLOCK = 2**22
EXACT_SVD_MAX = 2_000
OVERSAMPLE = 10
POWER_ITERATIONS = 4


def ternary(scores: np.ndarray, tau: float) -> np.ndarray:
    """sign(score) where |score| > τ, else 0, as int8."""
    return np.where(np.abs(scores) > tau, np.sign(scores), 0).astype(np.int8)


def top_components(A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Left singular vectors and singular values of A (n x m), largest first: all of them
    (LAPACK) while min(n, m) <= `EXACT_SVD_MAX`, else the top k + `OVERSAMPLE` by a
    seeded randomized range finder with `POWER_ITERATIONS` power iterations (Halko,
    Martinsson & Tropp 2011), which at per-cell scale (5,000 genes x 10,000 rows) takes
    seconds where the full SVD takes minutes."""
    if min(A.shape) <= EXACT_SVD_MAX:
        U, sv, _ = np.linalg.svd(A, full_matrices=False)
        return U, sv
    width = min(k + OVERSAMPLE, min(A.shape))
    Q = A @ np.random.default_rng(0).standard_normal((A.shape[1], width))
    for _ in range(POWER_ITERATIONS):
        Q, _ = np.linalg.qr(Q)
        Q, _ = np.linalg.qr(A.T @ Q)
        Q = A @ Q
    Q, _ = np.linalg.qr(Q)
    U_small, sv, _ = np.linalg.svd(Q.T @ A, full_matrices=False)
    return Q @ U_small, sv


class LinearBaseline:
    """Y ≈ G W p(x)ᵀ + b with a symmetric cut-off ±τ.

    G (n x K) is the top-K principal components of the training labels with genes as
    rows (scores U_K S_K of the gene-centred Y_lᵀ); the perturbation embedding is
    p(x) = Σ_g x_g G_g, so unseen perturbations of measured genes, and unseen
    combinations, still embed. W (K x K) is the closed-form ridge solution
    W = (GᵀG + λI)⁻¹ Gᵀ (Y_l − b)ᵀ P (PᵀP + λI)⁻¹ and b the per-gene mean of Y_l. The
    continuous score is cut at the τ that maximises macro F1 on the training data.

    Parameters
    ----------
    n_components : int
        K, the number of principal components, >= 1 (fewer when Y_l has lower rank).
    ridge : float
        λ >= 0.
    """

    def __init__(self, n_components: int = 10, ridge: float = 0.1) -> None:
        check_positive_int(n_components, "n_components", source="linear baseline")
        if ridge < 0:
            raise InputError(f"ridge must be >= 0, got {ridge}", source="linear baseline")
        self.n_components = int(n_components)
        self.ridge = float(ridge)
        self.gene_embedding: np.ndarray | None = None
        self.W: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.tau: float = 0.0

    @property
    def n_genes(self) -> int:
        if self.gene_embedding is None:
            raise InputError("the linear baseline is not fitted", source="linear baseline")
        return self.gene_embedding.shape[0]

    def fit(self, X_l: Any, Y_l: Any, measured: Any = None) -> LinearBaseline:
        """Fit G, W, b and τ on the labelled data.

        Parameters
        ----------
        X_l : array-like, shape (m, n)
            Inputs x in {-1, 0, 1}.
        Y_l : array-like, shape (m, n)
            Labels y in {-1, 0, 1}.
        measured : array-like of bool, shape (n,), optional
            False for latent genes (no labels): their columns are fitted as all 0 and τ is
            chosen on the other columns.

        Returns
        -------
        LinearBaseline
            self, fitted.
        """
        Y = check_label_matrix(Y_l, "Y_l", dtype=np.float64)
        X = check_perturbations(X_l, Y.shape[1], name="X_l").astype(np.float64)
        if X.shape != Y.shape:
            raise InputError(f"Y_l has shape {Y.shape}, expected {X.shape}", source="Y_l")
        scored = check_gene_mask(measured, Y.shape[1], source="Y_l")
        if not scored.all():
            Y = np.where(scored, Y, 0.0)
        self.bias = Y.mean(axis=0)
        centred = (Y - self.bias).T
        U, sv = top_components(centred, self.n_components)
        k = min(
            self.n_components, int(np.count_nonzero(sv > 1e-10 * max(sv.max(initial=0.0), 1.0)))
        )
        k = max(k, 1)
        G = U[:, :k] * sv[:k]
        P = X @ G
        eye = np.eye(k)
        left = np.linalg.solve(G.T @ G + self.ridge * eye, G.T @ centred @ P)
        self.W = np.linalg.solve((P.T @ P + self.ridge * eye).T, left.T).T
        self.gene_embedding = G
        self.tau = self._best_tau(self._scores(X)[:, scored], Y[:, scored].astype(np.int8))
        return self

    def _scores(self, X: np.ndarray) -> np.ndarray:
        P = X @ self.gene_embedding
        return (self.gene_embedding @ self.W @ P.T).T + self.bias

    @staticmethod
    def _best_tau(scores: np.ndarray, Y: np.ndarray) -> float:
        """The τ of `N_THRESHOLDS` quantiles of |score| with the highest macro F1 (the
        smallest on ties). One pass over the entries: an entry takes sign(score) at every
        grid τ below |score| and 0 above, so counting, per label and sign, the grid values
        below each entry gives every τ's confusion matrix."""
        magnitude = np.abs(scores).ravel()
        grid = np.unique(np.quantile(magnitude, np.linspace(0.0, 0.999, N_THRESHOLDS)))
        J = len(grid)
        moved = np.zeros((3, 2, J + 1), dtype=np.int64)
        truth_counts = np.zeros(3, dtype=np.int64)
        truth = np.asarray(Y).ravel()
        for start in range(0, len(magnitude), TAU_BLOCK):
            block = slice(start, start + TAU_BLOCK)
            below = np.searchsorted(grid, magnitude[block], side="left")
            sign = np.sign(scores.ravel()[block])
            label = truth[block]
            for t in range(3):
                is_t = label == t - 1
                truth_counts[t] += np.count_nonzero(is_t)
                for s, value in enumerate((-1.0, 1.0)):
                    moved[t, s] += np.bincount(below[is_t & (sign == value)], minlength=J + 1)
        counts = np.zeros((J, 3, 3), dtype=np.int64)
        tails = moved[:, :, ::-1].cumsum(axis=-1)[:, :, ::-1][:, :, 1:]
        counts[:, :, 0] = tails[:, 0].T
        counts[:, :, 2] = tails[:, 1].T
        counts[:, :, 1] = truth_counts - counts[:, :, 0] - counts[:, :, 2]
        f1 = np.array([class_f1(c).mean() for c in counts])
        return float(grid[int(np.argmax(f1))])

    def decision_function(self, X: Any) -> np.ndarray:
        """Continuous scores G W p(x)ᵀ + b, m x n.

        Parameters
        ----------
        X : array-like, shape (m, n)

        Returns
        -------
        numpy.ndarray, shape (m, n), float64
        """
        return self._scores(check_perturbations(X, self.n_genes, name="X").astype(np.float64))

    def predict(self, X: Any) -> np.ndarray:
        """Ternary predictions in {-1, 0, 1}, m x n int8.

        Parameters
        ----------
        X : array-like, shape (m, n)

        Returns
        -------
        numpy.ndarray, shape (m, n), int8
        """
        return ternary(self.decision_function(X), self.tau)
