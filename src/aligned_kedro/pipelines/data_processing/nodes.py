"""Thin nodes over aligned_kedro.core for the data_processing pipeline."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aligned_kedro.core.data import cells as cells_core
from aligned_kedro.core.data import design as design_core
from aligned_kedro.core.data import harmonise, labels
from aligned_kedro.core.errors import InputError
from aligned_kedro.pipelines._common import measured_mask, optional_table, synonym_table

if TYPE_CHECKING:
    import anndata

log = logging.getLogger(__name__)

FORMAT_OPTIONS = (
    "format",
    "dorothea_levels",
    "omnipath_undirected",
    "omnipath_consensus",
    "complexes",
    "go_as",
    "go_min_importance",
)


def _cell_table(
    cells: anndata.AnnData, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series | None, Any, pd.DataFrame]:
    """The gene table, the per-cell conditions, the replicate (batch) of each cell and the
    cells x genes matrix of a screen, without the cells that escaped their perturbation
    (``escape_filter``), and the escaped cells per condition."""
    var = cells.var
    name_column = params["gene_name_column"]
    if name_column not in var.columns:
        raise InputError("no gene-name column in var", source="raw_cells", column=name_column)
    genes = pd.DataFrame(
        {
            "gene_id": var.index.astype(str),
            "gene_name": var[name_column].astype(str).to_numpy(),
            "go_count": var[params["go_count_column"]].to_numpy()
            if params.get("go_count_column")
            else 0,
        }
    )
    for column in var.columns.drop([name_column, params.get("go_count_column")], errors="ignore"):
        if column not in genes.columns:
            genes[column] = var[column].astype(str).to_numpy()
    table = cells_core.cell_conditions(
        cells.obs,
        convention=params["convention"],
        column=params["column"],
        control=params["control"],
        delimiter=params["delimiter"],
        type_column=params.get("type_column"),
        perturbation_type_default=params.get("perturbation_type"),
        duplicate_conditions=params["duplicate_conditions"],
        source="raw_cells",
    )
    replicate_column = params.get("replicate_column")
    if replicate_column and replicate_column not in cells.obs.columns:
        raise InputError("no replicate column in obs", source="raw_cells", column=replicate_column)
    replicates = cells.obs[replicate_column] if replicate_column else None
    matrix = cells.layers[params["layer"]] if params.get("layer") else cells.X
    columns = {name: i for i, name in enumerate(genes["gene_name"])}
    columns.update({name: i for i, name in enumerate(genes["gene_id"])})
    escaped, escapes = cells_core.escaped_cells(
        matrix,
        genes["gene_id"].tolist(),
        table,
        columns=columns,
        scale=params["scale"],
        escape_filter=params.get("escape_filter", "none"),
        source="raw_cells",
    )
    if escaped.any():
        kept = ~escaped
        table, matrix = table[kept], matrix[kept]
        replicates = None if replicates is None else replicates[kept]
    return genes, table, replicates, matrix, escapes


def _cell_options(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The options `pseudobulk` and `per_cell_labels` share, from ``data_processing.cells``."""
    return {
        "scale": params["scale"],
        "min_cells": params["min_cells"],
        "too_few_cells": params["too_few_cells"],
        "seed": seed,
        "source": "raw_cells",
    }


def _pseudobulk(
    cells: anndata.AnnData,
    params: dict[str, Any],
    seed: int,
    read: tuple[pd.DataFrame, pd.DataFrame, pd.Series | None, Any, pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    genes, table, replicates, matrix, escapes = read
    expression, design, report = cells_core.pseudobulk(
        matrix,
        genes["gene_id"].tolist(),
        table,
        pseudo_replicates=params["pseudo_replicates"],
        replicates=replicates,
        **_cell_options(params, seed),
    )
    report = report.merge(escapes[["condition", "n_escaped"]], on="condition", how="left")
    report["n_escaped"] = report["n_escaped"].fillna(0).astype(int)
    log.info(
        "%d cells -> %d pseudobulk samples of %d conditions",
        cells.n_obs,
        len(design),
        int(report["status"].eq("kept").sum()),
    )
    return expression, design, genes, report


def read_cells(
    cells: anndata.AnnData, params: dict[str, Any], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A single-cell screen as pseudobulk samples: expression (genes x samples, log2),
    design table, gene table (``gene_id, gene_name, go_count``) and a per-condition report."""
    return _pseudobulk(cells, params, seed, _cell_table(cells, params))


def read_cells_per_cell(
    cells: anndata.AnnData, params: dict[str, Any], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """`read_cells` plus per-cell labels (``labels: per_cell``): labels of the sampled cells
    (rows x all genes) and their rows (condition, cell, matched control cell, batch). The
    pseudobulk samples still give the gene universe, the conditions and their checks; the
    report gains ``n_sampled``."""
    read = _cell_table(cells, params)
    expression, design, genes, report = _pseudobulk(cells, params, seed, read)
    _, table, replicates, matrix, _ = read
    options = params["per_cell"]
    labels_by_cell, rows, sampled = cells_core.per_cell_labels(
        matrix,
        genes["gene_id"].tolist(),
        table,
        n_cells=options["n_cells"],
        threshold=options["threshold"],
        target_sum=options["target_sum"],
        batches=replicates,
        batch_column=params.get("replicate_column"),
        **_cell_options(params, seed),
    )
    report = report.merge(sampled[["condition", "n_sampled"]], on="condition", how="left")
    return expression, design, genes, report, labels_by_cell, rows


def expression_values(
    expression: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Log2 expression: as given (``scale: log2``) or log2 CPM of a count table, after the
    genes with a missing or non-finite value raise or are dropped (``non_finite``); the
    dropped genes are listed and logged."""
    finite, dropped = labels.finite_genes(
        expression, non_finite=params.get("non_finite", "error"), source="raw_expression"
    )
    if len(dropped):
        log.warning(
            "%d genes with missing or non-finite values dropped: %s",
            len(dropped),
            ", ".join(dropped["gene_id"].head(20)) + (" ..." if len(dropped) > 20 else ""),
        )
    if params["scale"] == "log2":
        return finite, dropped
    if params["scale"] == "counts":
        return labels.log_cpm(
            finite, pseudocount=params["pseudocount"], source="raw_expression"
        ), dropped
    raise InputError(
        f"unknown expression scale {params['scale']!r}; expected log2 or counts",
        source="parameters",
        column="data_processing.expression.scale",
    )


def harmonise_edges(
    raw_edges: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | dict | None,
    params: dict[str, Any],
    gene_params: dict[str, Any],
    aliases: pd.DataFrame | dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Any supported GRN format (`harmonise.edge_effects`) onto gene IDs (`harmonise_edges`),
    renamed symbols matched through the alias table (``raw_aliases``) when there is one."""
    options = {k: v for k, v in params.items() if k in FORMAT_OPTIONS}
    policies = {k: v for k, v in params.items() if k not in FORMAT_OPTIONS}
    effects, format_report = harmonise.edge_effects(raw_edges, **options, source="raw_edges")
    edges, report = harmonise.harmonise_edges(
        effects,
        genes,
        synonym_table(synonyms),
        **policies,
        aliases=gene_params["aliases"],
        symbol_aliases=optional_table(aliases),
        source="raw_edges",
    )
    return edges, pd.concat([format_report, report], ignore_index=True)


def _kb_genes(edges: pd.DataFrame) -> set[str]:
    return set(edges["regulator"]) | set(edges["target"])


def build_universe(
    expression: pd.DataFrame,
    genes: pd.DataFrame,
    edges: pd.DataFrame,
    design: pd.DataFrame,
    k: int,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """The measured genes and, with ``kb_genes: latent``, the unmeasured KB genes that carry
    a perturbation to them (`harmonise.gene_universe`); the counts as ``universe.*``."""
    perturbed = {
        gene
        for value in design.loc[design["role"].eq("perturbed"), "perturbation"]
        for gene in str(value).split("+")
    }
    universe, kept, report, counts = harmonise.gene_universe(
        expression.index,
        harmonise.with_kb_genes(genes, edges),
        edges,
        kb_genes=params["kb_genes"],
        latent_scope=params["latent_scope"],
        k=k,
        perturbed=perturbed,
        source="raw_edges",
    )
    return universe, kept, report, {f"universe.{name}": value for name, value in counts.items()}


def select_conditions(
    design: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | dict | None,
    expression: pd.DataFrame,
    edges: pd.DataFrame,
    params: dict[str, Any],
    gene_params: dict[str, Any],
    universe_params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The conditions that can be tested and whose perturbed genes are measured or latent:
    unknown names (with the closest known names; the KB's genes are known names), genes
    neither measured nor in the KB and, with ``kb_genes: drop``, unmeasured KB genes drop
    their condition or raise (``unknown_perturbation``)."""
    options = {k: v for k, v in params.items() if k != "unknown_perturbation"}
    genes = harmonise.with_kb_genes(genes, edges)
    found = {
        "synonyms": synonym_table(synonyms),
        "aliases": gene_params["aliases"],
        "source": "raw_design",
    }
    unknown = harmonise.unknown_perturbations(design, genes, **found)
    resolved = harmonise.resolve_perturbations(design, genes, unknown="keep", **found)
    coverage = design_core.perturbation_coverage(
        resolved,
        measured=expression.index,
        kb_genes=_kb_genes(edges),
        latent=universe_params["kb_genes"] == "latent",
        unknown=unknown,
    )
    return design_core.select_conditions(
        resolved,
        **options,
        coverage=coverage,
        unknown_perturbation=params["unknown_perturbation"],
        source="raw_design",
    )


def differential_expression(
    expression: pd.DataFrame, design: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    return labels.differential_expression(
        expression,
        design,
        test=params["test"],
        source_expression="raw_expression",
        source_design="raw_design",
    )


def label_conditions(
    de_table: pd.DataFrame, design: pd.DataFrame, universe: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Y (ternary labels) and X (perturbation inputs), conditions x universe genes."""
    genes = universe["gene_id"].tolist()
    y = labels.ternary_labels(de_table, lfc_threshold=params["lfc_threshold"], fdr=params["fdr"])
    conditions, x = labels.perturbation_matrix(design, genes, source="raw_design")
    x_table = pd.DataFrame(x, index=pd.Index(conditions, name="condition"), columns=genes)
    y_table = _latent_labels(
        y.reindex(index=x_table.index, columns=genes), universe, "raw_expression"
    )
    return y_table, x_table


def _latent_labels(y_table: pd.DataFrame, universe: pd.DataFrame, source: str) -> pd.DataFrame:
    """Labels over the universe: a measured gene without one raises; a latent gene has
    none, and its 0s are never scored (`measured_mask`)."""
    unlabelled = y_table.isna().any().to_numpy() & measured_mask(universe)
    if unlabelled.any():
        gene = str(y_table.columns[unlabelled][0])
        raise InputError("no label for a measured gene", source=source, gene=gene)
    return y_table.fillna(0).astype("int8")


def label_cells(
    cell_labels: pd.DataFrame, rows: pd.DataFrame, design: pd.DataFrame, universe: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``labels: per_cell``: Y (one row per sampled cell, universe genes) and X (its
    condition's perturbation inputs), and the rows kept; cells of conditions that
    `select_conditions` dropped are dropped with them, logged and counted."""
    genes = universe["gene_id"].tolist()
    conditions, x = labels.perturbation_matrix(design, genes, source="raw_design")
    kept = rows["condition"].isin(conditions).to_numpy()
    if not kept.all():
        log.warning(
            "%d labelled cells of %d dropped conditions dropped",
            int((~kept).sum()),
            rows.loc[~kept, "condition"].nunique(),
        )
    rows = rows[kept].reset_index(drop=True)
    missing = sorted(set(conditions) - set(rows["condition"]))
    if missing:
        raise InputError(
            "condition has no labelled cells", source="raw_cells", row=missing[0], gene=missing[0]
        )
    index = pd.Index(rows["row"], name="row")
    y_table = _latent_labels(cell_labels.loc[index].reindex(columns=genes), universe, "raw_cells")
    position = pd.Index(conditions).get_indexer(rows["condition"])
    x_table = pd.DataFrame(x[position], index=index, columns=genes)
    return y_table, x_table, rows


def unlabelled_inputs(
    universe: pd.DataFrame, perturbations: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """X_u; without a ``perturbation_type`` its direction is the labelled data's (section 1:
    -1 for knockouts and knockdowns, +1 for overexpression), never assumed."""
    regulators = universe.loc[universe["is_regulator"], "gene_id"].tolist()
    kind = params["perturbation_type"]
    if kind is None:
        signs = set(np.unique(perturbations.to_numpy())) - {0}
        if len(signs) != 1:
            raise InputError(
                "the labelled data perturb in both directions; set "
                "data_processing.unlabelled.perturbation_type (KO, KD or OE) for X_u",
                source="parameters",
                column="data_processing.unlabelled.perturbation_type",
            )
        kind = "OE" if signs == {1} else "KO"
    return design_core.unlabelled_inputs(
        universe["gene_id"].tolist(), regulators, perturbations, perturbation_type=kind
    )


DROP_METRICS = {
    design_core.UNKNOWN_NAME: "data.conditions_dropped_unknown_name",
    design_core.NOT_MEASURED: "data.conditions_dropped_unmeasured_gene",
    design_core.KB_GENE_DROPPED: "data.conditions_dropped_unmeasured_kb_gene",
}


def dataset_statistics(
    labels_table: pd.DataFrame,
    universe: pd.DataFrame,
    unlabelled: pd.DataFrame,
    conditions_report: pd.DataFrame,
    expression_report: pd.DataFrame,
    rows: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Counts logged with the run: genes (measured, latent, dropped for missing values),
    conditions (kept, dropped, and why a perturbed gene dropped one), label classes of the
    measured genes (and with per-cell ``rows``, the labelled cells). The split's sizes
    are the validation pipeline's (it splits)."""
    measured = measured_mask(universe)
    values = labels_table.to_numpy()[:, measured]
    status = conditions_report["status"]
    detail = conditions_report.get("detail", pd.Series("", index=conditions_report.index))
    stats = {
        "data.genes": len(universe),
        "data.genes_measured": int(measured.sum()),
        "data.genes_latent": int((~measured).sum()),
        "data.genes_dropped_non_finite": len(expression_report),
        "data.kb_regulators": int(universe["is_regulator"].sum()),
        "data.conditions": len(labels_table) if rows is None else rows["condition"].nunique(),
        "data.conditions_dropped": int(status.ne("kept").sum()),
        **{name: int(status.eq(reason).sum()) for reason, name in DROP_METRICS.items()},
        "data.conditions_latent_input": int(
            (status.eq("kept") & detail.fillna("").astype(str).str.startswith("latent")).sum()
        ),
        "data.labels_down": int((values == -1).sum()),
        "data.labels_none": int((values == 0).sum()),
        "data.labels_up": int((values == 1).sum()),
        "data.labels_changed_share": float((values != 0).mean()),
        "data.unlabelled_inputs": len(unlabelled),
    }
    if rows is not None:
        stats["data.label_rows"] = len(labels_table)
    log.info("dataset statistics: %s", stats)
    return stats
