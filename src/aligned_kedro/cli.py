"""Project CLI: ``kedro run`` as stock Kedro, but ``--params`` also takes ``key:value``.

Kedro 1.7 rejects ``--params=k:4`` although its help text promises colon or equals.
The project's ``run`` is Kedro's own command with only that option's parser widened.
"""

from __future__ import annotations

import copy
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import _split_params, split_string


def split_params(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Parse ``a:1,b.c=2`` into ``{"a": 1, "b": {"c": 2}}``; ``=`` wins over ``:``."""
    if isinstance(value, dict) or not value:
        return _split_params(ctx, param, value)
    items = split_string(ctx, param, value)
    normalised = [i if "=" in i or ":" not in i else i.replace(":", "=", 1) for i in items]
    return _split_params(ctx, param, ",".join(normalised))


def _with_colon_params(command: click.Command) -> click.Command:
    widened = copy.copy(command)
    widened.params = [copy.copy(p) for p in command.params]
    for option in widened.params:
        if option.name == "params":
            option.callback = split_params
    return widened


@click.group(name="aligned-kedro")
def cli() -> None:
    """Project commands of aligned-kedro."""


run = _with_colon_params(kedro_run)
cli.add_command(run, "run")
