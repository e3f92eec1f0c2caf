"""Analyses of a run (sections 4.1-4.4, appendix F): consistency benchmark, GRN topology,
shortcut edges, knowledge usage and interaction recovery, one module each.

Everything takes tables and returns tables or dicts; nothing here knows of Kedro.
"""

from aligned_kedro.core.evaluation.analysis.added_edges import (
    classify_added_edges,
    shortcut_summary,
)
from aligned_kedro.core.evaluation.analysis.benchmark import consistency_benchmark, stage_label
from aligned_kedro.core.evaluation.analysis.recovery import (
    count_recovery,
    false_additions,
    recovery_summary,
    responding_edges,
    sample_removals,
)
from aligned_kedro.core.evaluation.analysis.topology import (
    community_method,
    degree_table,
    grn_topology,
)
from aligned_kedro.core.evaluation.analysis.usage import degree_groups, knowledge_usage

__all__ = [
    "classify_added_edges",
    "community_method",
    "consistency_benchmark",
    "count_recovery",
    "degree_groups",
    "degree_table",
    "false_additions",
    "grn_topology",
    "knowledge_usage",
    "recovery_summary",
    "responding_edges",
    "sample_removals",
    "shortcut_summary",
    "stage_label",
]
