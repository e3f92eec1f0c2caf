"""The statistics behind the labels: the moderated t of Smyth (2004) with its
empirical-Bayes variance prior, Welch's t, and Benjamini-Hochberg FDR."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

from aligned_kedro.core._checks import check_probabilities
from aligned_kedro.core.errors import InputError


def benjamini_hochberg(p: np.ndarray | Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values: q_(i) = min_{k >= i} min(1, m p_(k) / k)."""
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise InputError("p-values must be a 1-d array of numbers in [0, 1]", source="p-values")
    check_probabilities(p, "p-values")
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = q_sorted
    return q


def trigamma_inverse(
    x: np.ndarray | float, *, tol: float = 1e-10, max_iter: int = 100
) -> np.ndarray:
    """Solve trigamma(y) = x for y > 0 by Newton's method on 1/trigamma (Smyth 2004).

    1/trigamma(y) is nearly linear (about y - 1/2), so Newton converges in a few steps
    from y0 = 1/2 + 1/x; very small and very large x use the asymptotes 1/x and 1/sqrt(x).
    """
    x = np.asarray(x, dtype=float)
    if (~np.isfinite(x)).any() or (x <= 0).any():
        raise InputError("trigamma_inverse needs finite positive values", source="trigamma input")
    y = 0.5 + 1.0 / x
    for _ in range(max_iter):
        tri = special.polygamma(1, y)
        step = tri * (1.0 - tri / x) / special.polygamma(2, y)
        y = y + step
        if np.all(-step / y < tol):
            break
    y = np.where(x > 1e7, 1.0 / np.sqrt(x), y)
    return np.where(x < 1e-6, 1.0 / x, y)


def fit_variance_prior(s2: np.ndarray, d: float) -> tuple[float, float]:
    """Empirical-Bayes prior (d0, s0^2) for gene variances s2 on d degrees of freedom.

    Smyth (2004): s2 | sigma^2 ~ sigma^2 chi2_d / d, 1/sigma^2 ~ chi2_d0 / (d0 s0^2).
    Moments of e = log s2 - digamma(d/2) + log(d/2) give trigamma(d0/2) = var(e) -
    trigamma(d/2); d0 = inf when the sampling variance explains var(log s2).
    Only positive s2 enter the fit (log 0 is undefined).
    """
    s2 = np.asarray(s2, dtype=float)
    s2 = s2[s2 > 0]
    if s2.size < 2 or d <= 0:
        raise InputError(
            f"need at least two genes with positive variance and d > 0 to fit the prior "
            f"(got {s2.size} genes, d = {d})",
            source="gene variances",
        )
    e = np.log(s2) - special.digamma(d / 2) + np.log(d / 2)
    e_mean = float(e.mean())
    e_var = float(e.var(ddof=1)) - float(special.polygamma(1, d / 2))
    if e_var <= 0:
        return float("inf"), float(np.exp(e_mean))
    d0 = 2.0 * float(trigamma_inverse(e_var))
    s0_2 = float(np.exp(e_mean + special.digamma(d0 / 2) - np.log(d0 / 2)))
    return d0, s0_2


def _two_sided_t_p(t: np.ndarray, df: float | np.ndarray) -> np.ndarray:
    df = np.broadcast_to(np.asarray(df, dtype=float), t.shape)
    tail = np.where(
        np.isinf(df), stats.norm.sf(np.abs(t)), stats.t.sf(np.abs(t), np.minimum(df, 1e300))
    )
    return np.minimum(2.0 * tail, 1.0)


def _residual_df(a: np.ndarray, b: np.ndarray, condition: str, source: str) -> tuple[int, int]:
    """The group sizes n1, n2; a two-group test needs n1 + n2 > 2."""
    n1, n2 = a.shape[1], b.shape[1]
    if n1 + n2 <= 2:
        raise InputError(
            f"condition {condition!r} has {n1} perturbed and {n2} control sample(s): no "
            "residual degrees of freedom, so no test can be done",
            source=source,
            column="condition",
            row=condition,
        )
    return n1, n2


def moderated_t(
    a: np.ndarray, b: np.ndarray, condition: str, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moderated t of perturbed `a` (genes x n1) against control `b` (genes x n2):
    (t, two-sided p, df), each of length genes; `condition` and `source` name errors.

    The pooled residual variance s^2 has d = n1 + n2 - 2 degrees of freedom; the prior
    (d0, s0^2) is fitted across the genes with s^2 > 0 and the posterior variance
    (d0 s0^2 + d s^2) / (d0 + d) gives t on d + d0 degrees of freedom.
    """
    n1, n2 = _residual_df(a, b, condition, source)
    d = n1 + n2 - 2
    m1, m2 = a.mean(axis=1), b.mean(axis=1)
    ss = ((a - m1[:, None]) ** 2).sum(axis=1) + ((b - m2[:, None]) ** 2).sum(axis=1)
    constant = (np.ptp(a, axis=1) == 0) & (np.ptp(b, axis=1) == 0)
    s2 = np.where(constant, 0.0, ss / d)
    if (s2 > 0).sum() < 2:
        raise InputError(
            f"condition {condition!r} has fewer than two genes with positive variance; "
            "the variance prior cannot be fitted",
            source=source,
            column="condition",
            row=condition,
        )
    d0, s0_2 = fit_variance_prior(s2, d)
    posterior = s0_2 if np.isinf(d0) else (d0 * s0_2 + d * s2) / (d0 + d)
    t = (m1 - m2) / np.sqrt(posterior * (1.0 / n1 + 1.0 / n2))
    df = np.full(t.shape, d + d0)
    return t, _two_sided_t_p(t, d + d0), df


def welch_t(
    a: np.ndarray, b: np.ndarray, condition: str, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch's t of `a` (genes x n1) against `b` (genes x n2): (t, two-sided p, df). Genes
    constant in both groups, and every gene when a group has one sample (with a warning),
    get t = NaN, df = NaN, p = 1."""
    n1, n2 = _residual_df(a, b, condition, source)
    if min(n1, n2) < 2:
        warnings.warn(
            f"condition {condition!r} in {source}: the Welch test needs two samples per group "
            f"(has {n1} perturbed, {n2} control); all its genes get p = 1",
            RuntimeWarning,
            stacklevel=3,
        )
        nan = np.full(a.shape[0], np.nan)
        return nan, np.ones(a.shape[0]), nan.copy()
    v1, v2 = a.var(axis=1, ddof=1) / n1, b.var(axis=1, ddof=1) / n2
    constant = (np.ptp(a, axis=1) == 0) & (np.ptp(b, axis=1) == 0)
    t = np.full(a.shape[0], np.nan)
    p = np.ones(a.shape[0])
    df = np.full(a.shape[0], np.nan)
    varying = ~constant
    if varying.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ttest_ind(a[varying], b[varying], axis=1, equal_var=False)
        t[varying], p[varying] = result.statistic, result.pvalue
        vs1, vs2 = v1[varying], v2[varying]
        df[varying] = (vs1 + vs2) ** 2 / (vs1**2 / (n1 - 1) + vs2**2 / (n2 - 1))
    return t, p, df
