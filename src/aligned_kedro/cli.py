"""Project CLI: ``kedro run`` as stock Kedro, with these changes.

- ``--params`` also takes ``key:value`` (Kedro 1.7 rejects ``--params=k:4`` although its
  help text promises colon or equals).
- Bad input (an `InputError`) is one line naming the dataset, file, column, row and gene,
  not a traceback; ``--verbose`` shows the traceback (and Kedro's dataset lines).
- ``--pipeline=X`` runs ``--pipelines=X`` (Kedro 1.7 deprecates ``--pipeline``; the
  README's commands keep working, without the warning).
- Each dataset runs on its own: ``kedro run`` (``aligned``) and ``--pipeline=validate``
  in a project with ``datasets`` run the default job, then each dataset's job, each in its
  own session (and MLflow run); a dataset that fails is reported and the others still
  run; the exit status is 1 if any failed.
"""

from __future__ import annotations

import copy
import logging
import os
import traceback
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import _split_params, split_string

from aligned_kedro.console import VERBOSE
from aligned_kedro.core.errors import InputError
from aligned_kedro.dataset_errors import DEFAULT_DATASET
from aligned_kedro.hooks import dataset_parameters

log = logging.getLogger(__name__)

JOB_PIPELINES = ("__default__", "aligned", "validate")
FILTERS = ("node_names", "from_nodes", "to_nodes", "from_inputs", "to_outputs", "tags")


def split_params(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Parse ``a:1,b.c=2`` into ``{"a": 1, "b": {"c": 2}}``; ``=`` wins over ``:``."""
    if isinstance(value, dict) or not value:
        return _split_params(ctx, param, value)
    items = split_string(ctx, param, value)
    normalised = [i if "=" in i or ":" not in i else i.replace(":", "=", 1) for i in items]
    return _split_params(ctx, param, ",".join(normalised))


def dataset_jobs(options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The jobs a ``run`` with `options` is split into: for ``aligned`` (the default) or
    ``validate`` without a node filter or namespace, in a project with ``datasets``, the
    default job (its nodes outside every dataset's namespace) and one job per dataset (its
    namespace), as ``run`` options over `options`; else none (one run, as stock Kedro)."""
    from kedro.framework.project import pipelines

    from aligned_kedro.pipeline_registry import project_parameters

    names = [options["pipeline"]] if options.get("pipeline") else list(options["pipelines"])
    name = names[0] if len(names) == 1 else "__default__" if not names else None
    if name not in JOB_PIPELINES or options.get("namespaces"):
        return []
    if any(options.get(f) for f in FILTERS):
        return []
    datasets = list(dataset_parameters(project_parameters()))
    if not datasets:
        return []
    default = tuple(
        n.name for n in pipelines[name].nodes if (n.namespace or "").split(".")[0] not in datasets
    )
    jobs = [(DEFAULT_DATASET, {"node_names": default})]
    return jobs + [(dataset, {"namespaces": [dataset]}) for dataset in datasets]


def _show(error: BaseException, verbose: bool) -> None:
    """An `InputError` as one line (with `verbose`, and any other error, its traceback)."""
    log.debug("run failed", exc_info=error)
    if verbose or not isinstance(error, InputError):
        click.secho("".join(traceback.format_exception(error)), fg="yellow", err=True)
    if isinstance(error, InputError):
        click.secho(f"Error: {error}", fg="red", err=True)


def _run_jobs(verbose: bool, options: dict[str, Any]) -> None:
    jobs = dataset_jobs(options)
    if not jobs:
        try:
            kedro_run.callback(**options)
        except InputError as error:
            _show(error, verbose)
            raise click.exceptions.Exit(1) from None
        return
    failed = []
    for dataset, selection in jobs:
        log.info("dataset %r: its own run", dataset)
        try:
            kedro_run.callback(**{**options, **selection})
        except Exception as error:
            _show(error, verbose)
            failed.append(dataset)
    done = [dataset for dataset, _ in jobs if dataset not in failed]
    click.echo(f"datasets finished: {done}; failed: {failed}", err=bool(failed))
    if failed:
        raise click.exceptions.Exit(1)


def _project_run(command: click.Command) -> click.Command:
    """Kedro's ``run`` with the wider ``--params``, ``--verbose``, one-line input errors
    and each dataset on its own (`dataset_jobs`)."""
    widened = copy.copy(command)
    widened.params = [copy.copy(p) for p in command.params]
    for option in widened.params:
        if option.name == "params":
            option.callback = split_params
    widened.params.append(
        click.Option(
            ["--verbose", "-v"],
            is_flag=True,
            help="Show Kedro's dataset and node lines, and the traceback of a failed run.",
        )
    )

    def callback(verbose: bool = False, **options: Any) -> None:
        if options.get("pipeline") and not options.get("pipelines"):
            options["pipelines"], options["pipeline"] = [options["pipeline"]], None
        if verbose:
            os.environ[VERBOSE] = "1"
        _run_jobs(verbose, options)

    widened.callback = callback
    return widened


@click.group(name="aligned-kedro")
def cli() -> None:
    """Project commands of aligned-kedro."""


run = _project_run(kedro_run)
cli.add_command(run, "run")
