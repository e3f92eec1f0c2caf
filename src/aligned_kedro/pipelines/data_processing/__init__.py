"""Raw expression, design and GRN tables (or cells) -> labelled conditions, splits and X_u."""

from .nodes import LABEL_MODES
from .pipeline import CELL_INPUTS, cells_pipeline, create_pipeline, per_cell_pipeline

__all__ = ["CELL_INPUTS", "LABEL_MODES", "cells_pipeline", "create_pipeline", "per_cell_pipeline"]
