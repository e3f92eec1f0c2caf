"""Project datasets."""

from __future__ import annotations

from collections.abc import Sequence

import mlflow
from kedro_datasets.json import JSONDataset

Metrics = dict[str, float | Sequence[float]]


class MetricsDataset(JSONDataset):
    """Flat ``{name: value}`` metrics: a versioned JSON file, and MLflow metrics of the run.

    A sequence of values is logged as a metric history (steps 0, 1, ...). Outside an
    active MLflow run only the file is written.
    """

    def save(self, data: Metrics) -> None:
        super().save(data)
        if mlflow.active_run() is None:
            return
        for name, value in data.items():
            history = value if isinstance(value, Sequence) else [value]
            for step, v in enumerate(history):
                mlflow.log_metric(name, float(v), step=step)
