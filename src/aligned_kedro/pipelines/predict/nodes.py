"""Thin nodes over aligned_kedro.core.prediction: the bundle an aligned run leaves, and the
predictions the predict pipeline writes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation import report
from aligned_kedro.core.prediction import (
    bundle_state,
    de_table,
    measured_test_requests,
    parse_requests,
    predict_requests,
    prediction_table,
    resolve_requests,
    response_summary,
    to_anndata,
)
from aligned_kedro.core.prediction.bundle import Bundle
from aligned_kedro.core.prediction.predictions import Prediction
from aligned_kedro.pipelines._common import deduction_options, synonym_table

log = logging.getLogger(__name__)


def bundle(
    model_state: dict[str, Any],
    refined_kb: pd.DataFrame,
    original_kb: pd.DataFrame,
    universe: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | dict | None,
    labels: pd.DataFrame,
    perturbations: pd.DataFrame,
    split: dict[str, Any],
    k: int,
    kb_params: dict[str, Any],
    gene_params: dict[str, Any],
) -> dict[str, Any]:
    """The final stage's model with its refined KB, k, the KB's deduction options, the gene
    names and the measured conditions: everything a prediction needs."""
    return bundle_state(
        model_state,
        refined_kb,
        original_kb,
        universe,
        genes,
        synonym_table(synonyms),
        labels,
        perturbations,
        split,
        k=k,
        **deduction_options(kb_params),
        aliases=gene_params.get("aliases", ()),
    )


def _requests(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    asked = params.get("perturbations")
    default = str(params.get("perturbation_type") or "KO")
    if asked:
        if len(table):
            log.warning(
                "predict.perturbations is set: the %d rows of predict_requests are not read",
                len(table),
            )
        return parse_requests(asked, default_type=default, source="predict.perturbations")
    if not len(table):
        raise InputError(
            "the request names no perturbation: set predict.perturbations (e.g. "
            '--params="predict.perturbations=crp;crp+fnr") or write '
            "data/01_raw/predict_requests.csv",
            source="predict.perturbations",
        )
    return parse_requests(table, default_type=default, source="predict_requests")


def predict(
    load_bundle: Callable[[str | None], dict[str, Any]],
    requests_table: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, Any, pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Predictions for ``predict.perturbations`` (or the ``predict_requests`` table) with
    the bundle of ``predict.run_id`` (None: the newest): the long table (for CSV and
    parquet), the AnnData, three cell-eval DE tables (the requests' predictions, and the
    measured test conditions predicted and observed on the measured genes) and the run's
    HTML report with its "Predictions" section. A refused request writes nothing."""
    requests = _requests(requests_table, params)
    b = Bundle.from_state(
        load_bundle(params.get("run_id")), k=params.get("k"), checksum=params.get("kb_checksum")
    )
    table, X = resolve_requests(
        requests, b.genes, b.gene_ids, b.synonyms, aliases=b.aliases, source="predict request"
    )
    prediction = predict_requests(b, table, X)
    long = prediction_table(b, prediction, top=params.get("top"))
    test_requests, test_X = measured_test_requests(b)
    test = predict_requests(b, test_requests, test_X)
    targets = test_requests["perturbation"].tolist()
    scored = b.gene_measured
    features = [g for g, kept in zip(b.gene_ids, scored, strict=True) if kept]
    log.info(
        "predicted %d perturbation(s) x %d genes with the model of run %s (k=%d, KB %s)",
        len(table),
        len(b.gene_ids),
        b.metadata.get("run_id"),
        b.k,
        b.checksum[:12],
    )
    return (
        long,
        long,
        to_anndata(b, prediction),
        de_table(table["perturbation"].tolist(), b.gene_ids, prediction.y_bar),
        de_table(targets, features, test.y_bar[:, scored]),
        de_table(targets, features, b.measured.Y[_test_rows(b)].toarray()[:, scored]),
        _report(b, prediction, params),
    )


def _report(b: Bundle, prediction: Prediction, params: dict[str, Any]) -> str:
    model = {
        "run_id": b.metadata.get("run_id"),
        "k": b.k,
        "variant": b.variant,
        "kb_checksum": b.checksum,
    }
    section = report.prediction_section(
        response_summary(prediction),
        prediction_table(b, prediction, top=params["report_genes"]),
        model,
    )
    run = mlflow.active_run()
    return report.render_html(
        "ALIGNED predictions",
        [section],
        run_id=run.info.run_id if run else None,
        parameters={"predict": params},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _test_rows(b: Bundle) -> list[int]:
    return b.measured.conditions.index[b.measured.conditions["split"].eq("test")].tolist()
