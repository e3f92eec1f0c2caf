"""What a run prints: third-party noise filtered out, metric dicts as readable lines.

Kedro's per-dataset "Loading data from / Saving data to" lines and per-node lines are at
WARNING in ``conf/logging.yml``; ``ALIGNED_VERBOSE=1`` brings them back for one command.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping
from typing import Any

VERBOSE = "ALIGNED_VERBOSE"
KEDRO_DETAIL = ("kedro.io", "kedro.pipeline.node", "kedro.runner", "kedro_mlflow")

# Messages (regex) of third-party warnings that say nothing about this project.
THIRD_PARTY_WARNINGS: tuple[str, ...] = (
    r"register_new_resolver\(\) is deprecated",
    r"One or more dataset names contain '\.'",
    r"Add type hints to the `predict` method",
    r"Type hint used in the model's predict function is not supported",
    r"Failed to infer signature from type hint",
)
# (logger, message regex) of third-party log lines of the same kind.
THIRD_PARTY_LINES: tuple[tuple[str, str], ...] = (
    ("py.warnings", "|".join(THIRD_PARTY_WARNINGS)),
    ("mlflow.pyfunc", r"Passing a Python object as `python_model`"),
)


class _DropLines(logging.Filter):
    def __init__(self, pattern: str) -> None:
        super().__init__()
        self._pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._pattern.search(str(record.msg))


def quiet_third_party_warnings() -> None:
    """Drop the third-party warnings of `THIRD_PARTY_WARNINGS` and the log lines of
    `THIRD_PARTY_LINES`, nothing else. The log filters also catch the warnings that
    mlflow re-enables inside its own functions, once Kedro logs warnings."""
    for message in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=f".*{message}", category=UserWarning)
    for name, pattern in THIRD_PARTY_LINES:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines(pattern))


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"


def readable(value: Any, *, nested: bool = False) -> str:
    """`value` as a person reads it: numbers to 4 significant digits, numpy scalars as
    plain numbers, mappings as ``key=value, ...`` (in braces when nested)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Mapping):
        text = ", ".join(f"{key}={readable(inner, nested=True)}" for key, inner in value.items())
        return f"{{{text}}}" if nested else text
    if isinstance(value, list | tuple):
        return "[" + ", ".join(readable(inner, nested=True) for inner in value) + "]"
    return str(value)


class ReadableArgs(logging.Filter):
    """Render the mappings, sequences and numpy scalars a log call passes for ``%s`` as
    `readable` text, so a metric dict prints as ``data_f1=0.4103, kb_usage=0.3``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not args or "%(" in str(record.msg):
            return True
        if isinstance(args, Mapping):
            record.args = (readable(args),)
        else:
            named = {arg for arg in args if isinstance(arg, str)}
            record.args = tuple(_readable_arg(arg, named) for arg in args)
        return True


def _readable_arg(arg: Any, named: set[str]) -> Any:
    """`arg` as `readable` text; a mapping whose keys all start with ``<name>.``, where
    the same call names ``<name>`` (``"%s: %s", stage, metrics``), without that prefix."""
    if isinstance(arg, Mapping) and arg:
        prefix = os.path.commonprefix([str(key) for key in arg]).rpartition(".")[0]
        if prefix in named:
            arg = {str(key)[len(prefix) + 1 :]: value for key, value in arg.items()}
    if isinstance(arg, Mapping | list | tuple):
        return readable(arg)
    if hasattr(arg, "item") and getattr(arg, "ndim", None) == 0:
        return arg.item()
    return arg


def configure_console() -> None:
    """Readable metric lines on every handler of the root logger, third-party noise
    dropped, and Kedro's dataset lines back with ALIGNED_VERBOSE."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ReadableArgs) for f in handler.filters):
            handler.addFilter(ReadableArgs())
    quiet_third_party_warnings()
    verbose = os.environ.get(VERBOSE, "").strip() not in ("", "0")
    for name in KEDRO_DETAIL:  # kedro-mlflow sets its own level when imported
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
