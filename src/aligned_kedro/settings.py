"""Project settings: https://docs.kedro.org/en/stable/kedro_project_setup/settings.html

kedro-mlflow's own hook is replaced by `AlignedMlflowHook`, its subclass with the
project's run names, parameters, headline metrics and run states. Hooks run in reverse
order of this tuple; the schema check runs first of all (``tryfirst``).
"""

from kedro.config import OmegaConfigLoader

from aligned_kedro.dataset_errors import DatasetErrorHooks
from aligned_kedro.hooks import (
    ConsoleHooks,
    DatasetParametersHook,
    ParameterSchemaHook,
    ProvenanceHooks,
    RunLedgerHooks,
)
from aligned_kedro.tracking import AlignedMlflowHook

HOOKS = (
    ConsoleHooks(),
    DatasetParametersHook(),
    ProvenanceHooks(),
    AlignedMlflowHook(),
    RunLedgerHooks(),
    ParameterSchemaHook(),
    DatasetErrorHooks(),
)
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow", "kedro_mlflow")

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {"base_env": "base", "default_run_env": "local"}
