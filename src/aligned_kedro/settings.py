"""Project settings: https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader

from aligned_kedro.dataset_errors import DatasetErrorHooks
from aligned_kedro.hooks import DatasetParametersHook, ProvenanceHooks

HOOKS = (DatasetParametersHook(), ProvenanceHooks(), DatasetErrorHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {"base_env": "base", "default_run_env": "local"}
