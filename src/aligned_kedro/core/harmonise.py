"""Harmonise a signed regulator-target table onto gene identifiers and a shared universe."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

EFFECT_SIGNS = {"+": (1,), "-": (-1,)}
DualPolicy = Literal["both", "drop", "activation", "inhibition"]
UnknownPolicy = Literal["drop", "error", "activation", "inhibition"]
DropPolicy = Literal["drop", "error"]


def _require_columns(table: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    for column in columns:
        if column not in table.columns:
            raise InputError(
                f"missing column; expected {list(columns)}, found {list(table.columns)}",
                source=source,
                column=column,
            )


def read_edge_table(path: str | Path) -> pd.DataFrame:
    """Read a signed edge table (``regulator, target, sign`` plus optional columns).

    Tab-separated for ``.tsv``/``.tsv.gz``/``.txt``, comma-separated otherwise; signs are
    ``+``/``-`` or ``1``/``-1``. Errors name the file and the column.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", source=str(path))
    tab = any(s in (".tsv", ".txt", ".tab") for s in path.suffixes)
    table = pd.read_csv(path, sep="\t" if tab else ",", dtype={"sign": str})
    _require_columns(table, ["regulator", "target", "sign"], str(path))
    return table


def name_resolver(genes: pd.DataFrame, synonyms: pd.DataFrame | None = None) -> dict[str, tuple]:
    """Map lower-cased identifiers, names and synonyms to tuples of gene IDs."""
    _require_columns(genes, ["gene_id", "gene_name"], "gene table")
    resolver: dict[str, tuple] = {}
    for gene_id, name in zip(genes["gene_id"], genes["gene_name"], strict=True):
        resolver[str(gene_id).lower()] = (gene_id,)
        if isinstance(name, str):
            resolver.setdefault(name.lower(), (gene_id,))
    if synonyms is not None:
        _require_columns(synonyms, ["name", "genes"], "synonym table")
        for row, (name, members) in enumerate(
            zip(synonyms["name"], synonyms["genes"], strict=True)
        ):
            resolved = [resolver.get(m.strip().lower()) for m in str(members).split(";")]
            if any(r is None for r in resolved):
                raise InputError(
                    f"synonym {name!r} names a gene absent from the gene table",
                    source="synonym table",
                    column="genes",
                    row=row,
                    gene=members,
                )
            resolver.setdefault(str(name).lower(), tuple(g for r in resolved for g in r))
    return resolver


def _resolve(name: str, resolver: dict[str, tuple], composite: str) -> tuple | None:
    parts = [p.strip() for p in str(name).split(";") if p.strip()]
    resolved = [resolver.get(p.lower()) for p in parts]
    if not parts or any(r is None for r in resolved):
        return None
    members = tuple(dict.fromkeys(g for r in resolved for g in r))
    if len(members) > 1 and composite == "drop":
        return ()
    return members


def harmonise_edges(
    raw: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None = None,
    *,
    composite: Literal["split", "drop"] = "split",
    dual: DualPolicy = "both",
    unknown: UnknownPolicy = "drop",
    unresolved: DropPolicy = "drop",
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn ``regulator, target, effect`` rows into signed edges between gene IDs.

    ``effect`` is ``+``, ``-``, ``+-`` (dual, by ``dual``) or ``?`` (by ``unknown``).
    Names resolve through gene IDs, gene names and ``synonyms`` (case-insensitive). A
    composite regulator (``flhD;flhC``) gives every subunit the edge (``split``) or is
    dropped. Names that are not genes (metabolites, tRNAs) are dropped and counted, or
    raise with ``unresolved="error"``. Returns the edges (``regulator, target, sign,
    regulator_name, effect``) and a report of every drop and expansion.
    """
    _require_columns(raw, ["regulator", "target", "effect"], source)
    resolver = name_resolver(genes, synonyms)
    dual_signs = {"both": (1, -1), "drop": (), "activation": (1,), "inhibition": (-1,)}
    unknown_signs = {"drop": (), "activation": (1,), "inhibition": (-1,), "error": None}
    effects = {**EFFECT_SIGNS, "+-": dual_signs[dual], "?": unknown_signs[unknown]}
    rows, dropped = [], []
    for row, (regulator, target, effect) in enumerate(
        zip(raw["regulator"], raw["target"], raw["effect"], strict=True)
    ):
        for column, value in (("regulator", regulator), ("target", target), ("effect", effect)):
            if pd.isna(value):
                raise InputError("empty value", source=source, column=column, row=row)
        if effect not in effects:
            raise InputError(
                f"unknown effect {effect!r}; expected one of {sorted(effects)}",
                source=source,
                column="effect",
                row=row,
                gene=str(regulator),
            )
        signs = effects[effect]
        if signs is None:
            raise InputError(
                "edge of unknown sign '?' (set unknown: drop to drop these)",
                source=source,
                column="effect",
                row=row,
                gene=str(regulator),
            )
        regulators = _resolve(regulator, resolver, composite)
        targets = _resolve(target, resolver, "split")
        if regulators is None or targets is None:
            gene, column = (regulator, "regulator") if regulators is None else (target, "target")
            if unresolved == "error":
                raise InputError(
                    "name is not a gene of the gene table",
                    source=source,
                    column=column,
                    row=row,
                    gene=str(gene),
                )
            dropped.append(("dropped", f"{column} not a gene: {gene}", 1))
            continue
        if not regulators:
            dropped.append(("dropped", f"composite regulator: {regulator}", 1))
            continue
        if not signs:
            dropped.append(("dropped", f"effect {effect} by policy", 1))
            continue
        if len(regulators) > 1:
            dropped.append(("expanded", f"composite regulator split: {regulator}", 1))
        rows += [(r, t, s, regulator, effect) for r in regulators for t in targets for s in signs]
    edges = pd.DataFrame(rows, columns=["regulator", "target", "sign", "regulator_name", "effect"])
    duplicates = int(edges.duplicated(["regulator", "target", "sign"]).sum())
    edges = edges.drop_duplicates(["regulator", "target", "sign"]).reset_index(drop=True)
    report = pd.DataFrame(dropped, columns=["action", "reason", "rows"])
    report = report.groupby(["action", "reason"], as_index=False)["rows"].sum()
    summary = pd.DataFrame(
        [
            ("input", "rows in the edge table", len(raw)),
            ("merged", "duplicate edges after expansion", duplicates),
            ("output", "signed edges", len(edges)),
        ],
        columns=["action", "reason", "rows"],
    )
    report = pd.concat([summary, report], ignore_index=True)
    drops = report[report["action"].eq("dropped")]
    by_kind = drops.groupby(drops["reason"].str.split(":").str[0])["rows"].sum()
    log.info(
        "%s: %d rows -> %d signed edges; dropped %s; %d duplicates merged",
        source,
        len(raw),
        len(edges),
        {kind: int(n) for kind, n in by_kind.items()} or "nothing",
        duplicates,
    )
    return edges, report


def gene_universe(
    expression_genes: Sequence[str],
    genes: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    unmeasured_kb_genes: DropPolicy = "drop",
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The gene universe is the measured genes; KB edges outside it are dropped and counted.

    Returns the universe (``gene_id, gene_name, is_regulator, in_kb``), the edges inside
    it, and a report of what each side lost and why.
    """
    measured = pd.Index(expression_genes)
    if measured.has_duplicates:
        gene = str(measured[measured.duplicated()][0])
        raise InputError("duplicate gene in the expression table", source="expression", gene=gene)
    names = genes.set_index("gene_id")["gene_name"]
    unknown = measured.difference(names.index)
    kb_genes = pd.Index(pd.unique(pd.concat([edges["regulator"], edges["target"]])))
    outside = kb_genes.difference(measured)
    if len(outside) and unmeasured_kb_genes == "error":
        raise InputError(
            f"{len(outside)} KB genes are not measured", source=source, gene=str(outside[0])
        )
    inside = edges["regulator"].isin(measured) & edges["target"].isin(measured)
    kept = edges[inside].reset_index(drop=True)
    universe = pd.DataFrame(
        {
            "gene_id": measured,
            "gene_name": names.reindex(measured)
            .fillna(pd.Series(measured, index=measured))
            .to_numpy(),
            "is_regulator": measured.isin(kept["regulator"]),
            "in_kb": measured.isin(kept["regulator"]) | measured.isin(kept["target"]),
        }
    )
    report = pd.DataFrame(
        [
            ("data", "measured genes (the universe)", len(measured), 0),
            ("data", "measured genes absent from the gene table (kept)", len(unknown), 0),
            ("data", "measured genes without a KB edge (kept)", int((~universe["in_kb"]).sum()), 0),
            ("kb", "KB genes", len(kb_genes), len(edges)),
            (
                "kb",
                "KB genes not measured (dropped with their edges)",
                len(outside),
                int((~inside).sum()),
            ),
            ("kb", "KB regulators in the universe", int(universe["is_regulator"].sum()), len(kept)),
        ],
        columns=["side", "reason", "genes", "edges"],
    )
    log.info(
        "gene universe: %d measured genes; KB keeps %d of %d edges, drops %d unmeasured genes",
        len(measured),
        len(kept),
        len(edges),
        len(outside),
    )
    return universe, kept, report


def resolve_perturbations(
    design: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None = None,
    *,
    source: str = "design table",
) -> pd.DataFrame:
    """Rewrite the ``perturbation`` column (names joined by ``+``) as gene IDs."""
    _require_columns(design, ["condition", "perturbation"], source)
    resolver = name_resolver(genes, synonyms)

    def to_ids(value: str, row: object) -> str:
        ids = []
        for name in filter(None, (p.strip() for p in str(value).split("+"))):
            found = resolver.get(name.lower())
            if found is None:
                raise InputError(
                    "perturbation names an unknown gene",
                    source=source,
                    column="perturbation",
                    row=row,
                    gene=name,
                )
            ids += found
        return "+".join(ids)

    resolved = [
        to_ids(v, c) if isinstance(v, str) and v else v
        for v, c in zip(design["perturbation"], design["condition"], strict=True)
    ]
    return design.assign(perturbation=resolved)
