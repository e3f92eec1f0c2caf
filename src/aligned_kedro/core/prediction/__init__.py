"""Prediction as a product: perturbations asked by name, ȳ for them over every gene, and
the signed paths through the refined KB that explain δ_KB (sections 2.2 and 3.3)."""

from aligned_kedro.core.prediction.bundle import Bundle, bundle_state, kb_checksum
from aligned_kedro.core.prediction.paths import (
    SignedPath,
    path_counts,
    shortest_walks,
    signed_paths,
)
from aligned_kedro.core.prediction.predictions import (
    TABLE_COLUMNS,
    Explanation,
    Prediction,
    de_table,
    explain,
    measured_test_requests,
    predict_requests,
    prediction_table,
    response_summary,
    to_anndata,
)
from aligned_kedro.core.prediction.requests import parse_requests, resolve_requests

__all__ = [
    "TABLE_COLUMNS",
    "Bundle",
    "Explanation",
    "Prediction",
    "SignedPath",
    "bundle_state",
    "de_table",
    "explain",
    "kb_checksum",
    "parse_requests",
    "path_counts",
    "predict_requests",
    "prediction_table",
    "resolve_requests",
    "response_summary",
    "shortest_walks",
    "signed_paths",
    "measured_test_requests",
    "to_anndata",
]
