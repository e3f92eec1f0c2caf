"""Single-cell perturbation screens as conditions (`conditions`), pseudobulk samples
(`pooling`) and per-cell labels (`per_cell`); cells that escaped their perturbation can
be dropped first (`escape`).

Cells are read in the GEARS convention (``ctrl``, ``A+ctrl``, ``A+B``) or the
scPerturb/pertpy one (a configurable column, control label(s) and guide delimiter). The
default turns cells into pseudobulk samples, so that labels come from the same
differential-expression test as bulk data (`aligned_kedro.core.data.labels`).
"""

from aligned_kedro.core.data.cells.conditions import cell_conditions
from aligned_kedro.core.data.cells.escape import escaped_cells
from aligned_kedro.core.data.cells.per_cell import per_cell_labels
from aligned_kedro.core.data.cells.pooling import pseudobulk

__all__ = ["cell_conditions", "escaped_cells", "per_cell_labels", "pseudobulk"]
