"""The trained ALIGNED model as a product: the `Predictor` Python API, the catalog datasets
that write and read its bundle, and the MLflow pyfunc model every ``aligned`` run logs.

    from aligned_kedro.predictor import Predictor

    predictor = Predictor.from_run()          # the newest bundle of this project's runs
    table = predictor.predict("crp;crp+fnr")  # one row per perturbation and gene
    print(predictor.explain("crp+fnr", "narK"))
    adata = predictor.to_anndata()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
import torch
from kedro.io.core import AbstractDataset, DatasetError, get_filepath_str
from kedro_datasets.pandas import ParquetDataset
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.prediction import (
    TABLE_COLUMNS,
    Bundle,
    Explanation,
    Prediction,
    explain,
    measured_test_requests,
    parse_requests,
    predict_requests,
    prediction_table,
    resolve_requests,
    to_anndata,
)
from aligned_kedro.datasets import AnnDataDataset, TorchStateDataset, _save_and_log

if TYPE_CHECKING:
    import anndata
    import scipy.sparse as sp

log = logging.getLogger(__name__)

BUNDLE_PATH = "data/06_models/predictor.pt"
ARTIFACT_PATH = "predictor"
REQUIREMENTS = ("torch", "torch-geometric", "numpy", "pandas", "scipy", "mlflow", "anndata")
OUTPUT_TYPES = {
    "prediction": "integer",
    "confidence": "float",
    "p_kb": "float",
    "p_down": "float",
    "p_none": "float",
    "p_up": "float",
    "neural": "integer",
    "delta_kb": "integer",
    "paths_pos": "double",
    "paths_neg": "double",
    "gene_measured": "boolean",
    "measured": "boolean",
    "observed": "integer",
}
SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec("string", "perturbation"),
            ColSpec("string", "perturbation_type", required=False),
        ]
    ),
    outputs=Schema([ColSpec(OUTPUT_TYPES.get(c, "string"), c) for c in TABLE_COLUMNS]),
)


def _newest(folder: Path) -> Path:
    """The file of the newest version of a versioned dataset folder."""
    versions = sorted(p for p in folder.iterdir() if (p / folder.name).is_file())
    if not versions:
        raise InputError("no saved version; run the aligned pipeline first", source=str(folder))
    return versions[-1] / folder.name


def load_bundle_state(
    source: str | Path | None = None,
    *,
    default: str | Path = BUNDLE_PATH,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """A bundle's state from a file, a folder of versions (the newest), or an MLflow run
    ID (the bundle that run logged); None: the newest version at `default`."""
    path = Path(default if source is None else source)
    if path.is_dir():
        path = _newest(path)
    if not path.is_file():
        if source is None:
            raise InputError(
                "no predictor bundle; run the aligned pipeline first", source=str(path)
            )
        path = _download(str(source), tracking_uri)
    with path.open("rb") as f:
        return torch.load(f, weights_only=True)


def _download(run_id: str, tracking_uri: str | None) -> Path:
    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=f"{ARTIFACT_PATH}/{Path(BUNDLE_PATH).name}",
            tracking_uri=tracking_uri,
        )
    except Exception as error:
        raise InputError(
            f"{run_id!r} is neither a bundle file nor an MLflow run with a predictor "
            f"(tracking URI {tracking_uri or mlflow.get_tracking_uri()}): {error}",
            source="predict.run_id",
        ) from None
    return Path(local)


class Predictor:
    """The final stage's model with its refined KB: predictions and explanations for
    perturbations asked by gene name (section 3.3: ȳ = δ_KB where f_a routes a gene to the
    KB, f_y's answer elsewhere)."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._last: tuple[pd.DataFrame, sp.csr_matrix] | None = None

    @classmethod
    def from_state(
        cls, state: dict[str, Any], *, k: int | None = None, kb_checksum: str | None = None
    ) -> Predictor:
        """From a bundle's state; a `k` or `kb_checksum` that differs from the bundle's is
        refused, naming both values."""
        return cls(Bundle.from_state(state, k=k, checksum=kb_checksum))

    @classmethod
    def from_run(
        cls,
        source: str | Path | None = None,
        *,
        k: int | None = None,
        kb_checksum: str | None = None,
        tracking_uri: str | None = None,
    ) -> Predictor:
        """From an MLflow run ID, a bundle file or a folder of bundle versions; None: the
        newest bundle an ``aligned`` run wrote in this project (data/06_models)."""
        return cls.from_state(
            load_bundle_state(source, tracking_uri=tracking_uri), k=k, kb_checksum=kb_checksum
        )

    @property
    def k(self) -> int:
        return self.bundle.k

    @property
    def kb_checksum(self) -> str:
        return self.bundle.checksum

    @property
    def run_id(self) -> str | None:
        return self.bundle.metadata.get("run_id")

    def resolve(
        self, perturbations: str | Sequence[str] | pd.DataFrame, perturbation_type: str = "KO"
    ) -> tuple[pd.DataFrame, sp.csr_matrix]:
        """Requests (``;``-separated string, list or table) as a table and inputs X."""
        requests = parse_requests(perturbations, default_type=perturbation_type)
        b = self.bundle
        return resolve_requests(requests, b.genes, b.gene_ids, b.synonyms, aliases=b.aliases)

    def prediction(
        self, perturbations: str | Sequence[str] | pd.DataFrame, perturbation_type: str = "KO"
    ) -> Prediction:
        """The arrays behind `predict`."""
        requests, X = self.resolve(perturbations, perturbation_type)
        self._last = (requests, X)
        return predict_requests(self.bundle, requests, X)

    def predict(
        self,
        perturbations: str | Sequence[str] | pd.DataFrame,
        perturbation_type: str = "KO",
        *,
        top: int | None = None,
    ) -> pd.DataFrame:
        """The long table (`aligned_kedro.core.prediction.TABLE_COLUMNS`): every gene of
        every perturbation, or its `top` responding genes."""
        prediction = self.prediction(perturbations, perturbation_type)
        return prediction_table(self.bundle, prediction, top=top)

    def explain(
        self, perturbation: str, gene: str, *, perturbation_type: str = "KO", limit: int = 10
    ) -> Explanation:
        """Why `gene` responds to `perturbation` as predicted: up to `limit` signed paths
        through the refined KB, the path counts behind δ_KB, f_a's choice, f_y's
        probabilities and what the training data said about the gene."""
        requests, X = self.resolve([perturbation], perturbation_type)
        genes, _ = self.resolve([gene])
        ids = genes["gene_ids"].iloc[0].split("+")
        if len(ids) != 1:
            raise InputError(f"{gene!r} names {len(ids)} genes; explain one", gene=gene)
        return explain(self.bundle, requests, X, self.bundle.gene_ids.index(ids[0]), limit=limit)

    def to_anndata(
        self,
        perturbations: str | Sequence[str] | pd.DataFrame | None = None,
        perturbation_type: str = "KO",
    ) -> anndata.AnnData:
        """An AnnData of the predictions for `perturbations` (None: those of the last
        `predict`): obs = perturbations, var = genes, X = ȳ as int8, layers and uns as in
        `aligned_kedro.core.prediction.to_anndata`."""
        if perturbations is None:
            if self._last is None:
                raise InputError("nothing predicted yet: pass the perturbations")
            prediction = predict_requests(self.bundle, *self._last)
        else:
            prediction = self.prediction(perturbations, perturbation_type)
        return to_anndata(self.bundle, prediction)

    def measured_test(self) -> Prediction:
        """Predictions for the measured test conditions (named by condition)."""
        return predict_requests(self.bundle, *measured_test_requests(self.bundle))

    def example(self) -> pd.DataFrame:
        """Two requests for this model: its most connected regulator alone and with the
        next one (the MLflow model's input example)."""
        edges = self.bundle.kb.edges()
        top = edges.loc[edges["regulator"] != edges["target"], "regulator"].value_counts()
        names = self.bundle.universe.set_index("gene_id")["gene_name"]
        picked = [str(names[g]) for g in top.index[:2]] or [str(names.iloc[0])]
        return pd.DataFrame({"perturbation": [picked[0], "+".join(picked)][: len(picked)]})


class AlignedModel(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc model: a table with ``perturbation`` (and optionally
    ``perturbation_type``) in, the long prediction table out."""

    def load_context(self, context: Any) -> None:
        self.predictor = Predictor.from_run(context.artifacts["bundle"])

    def predict(self, context: Any, model_input: Any, params: dict | None = None) -> pd.DataFrame:
        return self.predictor.predict(pd.DataFrame(model_input))


def _requirements() -> list[str]:
    pinned = []
    for name in REQUIREMENTS:
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pinned.append(name)
    return pinned


class PredictorDataset(TorchStateDataset):
    """The predictor bundle: a versioned file (loaded with ``weights_only=True``) and, in an
    MLflow run, the same file as a run artifact (``predictor/predictor.pt``) and an MLflow
    pyfunc model with a signature and an input example, registered as `model_name`."""

    def __init__(self, *, model_name: str = "aligned-ecoli", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._model_name = model_name

    def save(self, data: dict[str, Any]) -> None:
        run = mlflow.active_run()
        metadata = {
            **(data.get("metadata") or {}),
            "run_id": run.info.run_id if run else None,
            "model_name": self._model_name,
        }
        state = {**data, "metadata": metadata}
        path = get_filepath_str(self._get_save_path(), self._protocol)
        _save_and_log(self, super().save, state, ARTIFACT_PATH)
        if run is None:
            return
        info = mlflow.pyfunc.log_model(
            name=ARTIFACT_PATH,
            python_model=AlignedModel(),
            artifacts={"bundle": path},
            signature=SIGNATURE,
            input_example=Predictor.from_state(state).example(),
            registered_model_name=self._model_name,
            pip_requirements=_requirements(),
        )
        log.info("predictor logged as %s, registered as %s", info.model_uri, self._model_name)

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "model_name": self._model_name}


class PredictorSourceDataset(AbstractDataset):
    """Read-only: loads a function that gives a bundle's state for an MLflow run ID, or
    for None the newest bundle at `filepath` (what the ``predict`` pipeline starts from)."""

    def __init__(self, filepath: str = BUNDLE_PATH, metadata: dict | None = None) -> None:
        self._filepath = filepath
        self.metadata = metadata

    def load(self) -> Callable[[str | None], dict[str, Any]]:
        return partial(load_bundle_state, default=self._filepath)

    def save(self, data: Any) -> None:
        raise DatasetError("the predictor source is read-only; the aligned run writes bundles")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath}


class RequestTableDataset(AbstractDataset):
    """An optional CSV of requests (``perturbation[, perturbation_type]``); an absent file
    loads as an empty table."""

    def __init__(self, filepath: str, load_args: dict | None = None, metadata: dict | None = None):
        self._filepath = Path(filepath)
        self._load_args = dict(load_args or {})
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        if not self._filepath.is_file():
            return pd.DataFrame(columns=["perturbation", "perturbation_type"])
        return pd.read_csv(self._filepath, **self._load_args)

    def save(self, data: pd.DataFrame) -> None:
        raise DatasetError("the request table is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "load_args": self._load_args}


class ParquetArtifactDataset(ParquetDataset):
    """A versioned parquet table, each version also logged to the active MLflow run."""

    def __init__(self, *, artifact_path: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._artifact_path = artifact_path

    def save(self, data: pd.DataFrame) -> None:
        _save_and_log(self, super().save, data, self._artifact_path)


class AnnDataArtifactDataset(AnnDataDataset):
    """A versioned ``.h5ad``, each version also logged to the active MLflow run."""

    def __init__(self, *, artifact_path: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._artifact_path = artifact_path

    def save(self, data: anndata.AnnData) -> None:
        _save_and_log(self, super().save, data, self._artifact_path)
