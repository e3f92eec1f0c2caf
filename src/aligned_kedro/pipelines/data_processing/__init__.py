"""Raw expression, design and GRN tables (or cells) -> labelled conditions and X_u."""

from .pipeline import CELL_INPUTS, cells_pipeline, create_pipeline, with_cells

__all__ = ["CELL_INPUTS", "cells_pipeline", "create_pipeline", "with_cells"]
