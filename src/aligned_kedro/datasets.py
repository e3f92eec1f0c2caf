"""Project datasets."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import fsspec
import mlflow
import pandas as pd
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)
from kedro_datasets._typing import HTMLPreview
from kedro_datasets.json import JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.text import TextDataset
from matplotlib.figure import Figure

from aligned_kedro.runs import staging_path, write_atomically
from aligned_kedro.tracking import log_metrics

if TYPE_CHECKING:
    import anndata

Metrics = dict[str, float | Sequence[float]]


class MetricsDataset(JSONDataset):
    """Flat ``{name: value}`` metrics: a versioned JSON file, and MLflow metrics of the run.

    A sequence of values is logged as a metric history (steps 0, 1, ...). Outside an
    active MLflow run only the file is written. ``prefix`` (e.g. a dataset's namespace)
    is put before every MLflow metric name, so several datasets share one run.
    """

    def __init__(self, *args: Any, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prefix = f"{prefix}." if prefix and not prefix.endswith(".") else prefix

    def save(self, data: Metrics) -> None:
        super().save(data)
        run = mlflow.active_run()
        if run is not None:
            log_metrics(run.info.run_id, {f"{self._prefix}{k}": v for k, v in data.items()})


class _FileDataset(AbstractVersionedDataset):
    """One file on any fsspec filesystem, optionally versioned: the shared plumbing."""

    def __init__(
        self, filepath: str, version: Version | None = None, metadata: dict | None = None
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(
            protocol, **({"auto_mkdir": True} if protocol == "file" else {})
        )
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _load_file(self) -> str:
        return get_filepath_str(self._get_load_path(), self._protocol)

    def _write(self, write: Callable[[Any], None]) -> None:
        """Call ``write(file)``; a local file is written whole (a partial file renamed)."""
        path = self._save_file()
        if self._protocol == "file":
            write_atomically(Path(path), write)
        else:
            with self._fs.open(path, "wb") as f:
                write(f)

    def _save_file(self) -> str:
        return get_filepath_str(self._get_save_path(), self._protocol)

    def _exists(self) -> bool:
        try:
            path = self._load_file()
        except DatasetError:
            return False
        return self._fs.exists(path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}


class TorchStateDataset(_FileDataset):
    """A trained model as a dict of primitives and tensors (config, state_dict, history).

    Loaded with ``torch.load(..., weights_only=True)``: nothing is unpickled.
    """

    def load(self) -> dict[str, Any]:
        import torch

        with self._fs.open(self._load_file(), "rb") as f:
            return torch.load(f, weights_only=True)

    def save(self, data: dict[str, Any]) -> None:
        import torch

        self._write(lambda f: torch.save(data, f))


class HTMLDataset(TextDataset):
    """An HTML document as text, previewed as rendered HTML in kedro-viz, saved whole.

    A versioned copy goes to its version folder. The file at a fixed path (unversioned,
    e.g. ``report.html``) is staged during a run and renamed into place when the run
    completes (`aligned_kedro.runs`), so a failed run leaves the last complete run's;
    outside a run it is written to a partial file and renamed. With ``artifact_path``
    each saved file is also logged to the active MLflow run.
    """

    def __init__(self, *, artifact_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._artifact_path = artifact_path

    def save(self, data: str) -> None:
        if self._protocol != "file":
            super().save(data)
            return
        path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        target = (staging_path(path) if self._version is None else None) or path
        write_atomically(target, lambda partial: partial.write_text(data, encoding="utf-8"))
        self._invalidate_cache()
        if self._artifact_path is not None and mlflow.active_run() is not None:
            mlflow.log_artifact(str(target), self._artifact_path)

    def preview(self) -> HTMLPreview:
        return HTMLPreview(self.load())


def _save_and_log(dataset: AbstractVersionedDataset, save, data: Any, artifact_path: str) -> None:
    base = get_filepath_str(dataset._filepath, dataset._protocol)
    if dataset._version is not None and dataset._fs.isfile(base):
        raise DatasetError(
            f"{base} is a single file, left by a run before this dataset was versioned; "
            f"its versions go in a folder of that name. Move the file away (for example to "
            f"{base}.old) and run again."
        )
    path = get_filepath_str(dataset._get_save_path(), dataset._protocol)
    save(data)
    if mlflow.active_run() is not None:
        mlflow.log_artifact(path, artifact_path)


class CSVArtifactDataset(CSVDataset):
    """A versioned CSV table, each saved version also logged to the active MLflow run.

    kedro-mlflow's MlflowArtifactDataset cannot wrap a versioned dataset in Kedro 1.7: the
    inner dataset draws its own save version, which the catalog rejects.
    """

    def __init__(self, *, artifact_path: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._artifact_path = artifact_path

    def save(self, data: pd.DataFrame) -> None:
        _save_and_log(self, super().save, data, self._artifact_path)


class PlotArtifactDataset(MatplotlibDataset):
    """A versioned matplotlib figure (PNG), each version also logged to the active MLflow
    run; previewed as an image in kedro-viz."""

    def __init__(self, *, artifact_path: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._artifact_path = artifact_path

    def save(self, data: Figure) -> None:
        _save_and_log(self, super().save, data, self._artifact_path)


class AnnDataDataset(_FileDataset):
    """An AnnData object in an ``.h5ad`` file (any fsspec filesystem), optionally versioned.

    ``load_args`` go to ``anndata.read_h5ad`` (``backed`` is refused: the file handle
    would outlive the load); ``save_args`` to ``AnnData.write_h5ad`` (e.g.
    ``compression: gzip``), which writes a local file that is then put in place.
    """

    def __init__(
        self,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        version: Version | None = None,
        metadata: dict | None = None,
    ) -> None:
        self._load_args = dict(load_args or {})
        if self._load_args.get("backed"):
            raise DatasetError("AnnDataDataset loads into memory; 'backed' is not supported")
        self._save_args = dict(save_args or {})
        super().__init__(filepath, version=version, metadata=metadata)

    def load(self) -> anndata.AnnData:
        import anndata

        with self._fs.open(self._load_file(), "rb") as f:
            return anndata.read_h5ad(f, **self._load_args)

    def save(self, data: anndata.AnnData) -> None:
        path = self._save_file()
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "data.h5ad"
            data.write_h5ad(local, **self._save_args)
            self._fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
            self._fs.put_file(str(local), path)

    def _describe(self) -> dict[str, Any]:
        return {
            **super()._describe(),
            "load_args": self._load_args,
            "save_args": self._save_args,
        }
