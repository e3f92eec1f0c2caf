"""Harmonise a signed regulator-target table onto gene identifiers and a shared universe."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from aligned_kedro.core._checks import check_positive_int
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

EFFECT_SIGNS = {"+": (1,), "-": (-1,)}
DualPolicy = Literal["both", "drop", "activation", "inhibition"]
UnknownPolicy = Literal["drop", "error", "activation", "inhibition"]
DropPolicy = Literal["drop", "error"]
EdgeFormat = Literal["regulondb", "collectri", "omnipath", "dorothea", "go"]
EDGE_FORMATS: tuple[str, ...] = ("regulondb", "collectri", "omnipath", "dorothea", "go")
DOROTHEA_LEVELS: tuple[str, ...] = ("A", "B", "C", "D", "E")
_ENSEMBL_VERSION = re.compile(r"^(ens[a-z]*\d+)\.\d+$")


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


def _truthy(column: pd.Series, source: str) -> pd.Series:
    """0/1, true/false (any case) as booleans; anything else raises naming the row."""
    text = column.astype(str).str.strip().str.lower()
    known = text.isin(["1", "0", "true", "false", "1.0", "0.0"])
    if not known.all():
        row = int(np.flatnonzero(~known.to_numpy())[0])
        raise InputError(
            f"expected 0/1 or true/false, found {column.iloc[row]!r}",
            source=source,
            column=str(column.name),
            row=row,
        )
    return text.isin(["1", "true", "1.0"])


def _effect_from_sign(values: pd.Series, source: str, gene: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise InputError(
            f"non-numeric sign {values.iloc[row]!r}",
            source=source,
            column=str(values.name),
            row=row,
            gene=str(gene.iloc[row]),
        )
    return pd.Series(np.select([numbers > 0, numbers < 0], ["+", "-"], "?"), index=values.index)


def edge_effects(
    raw: pd.DataFrame,
    *,
    format: EdgeFormat = "regulondb",
    dorothea_levels: Sequence[str] = ("A", "B", "C"),
    omnipath_undirected: Literal["drop", "keep"] = "drop",
    omnipath_consensus: bool = True,
    go_as: Literal["positive"] | None = None,
    go_min_importance: float = 0.0,
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a GRN resource to ``regulator, target, effect`` (``+``, ``-``, ``+-``, ``?``).

    - ``regulondb``: ``regulator, target, effect`` (RegulonDB / EcoCyc), unchanged.
    - ``collectri``: ``source, target, weight`` (decoupler), the sign of ``weight``.
    - ``omnipath``: ``source, target, is_stimulation, is_inhibition, is_directed`` (plus
      ``consensus_*``, used when ``omnipath_consensus``; ``source_genesymbol`` and
      ``target_genesymbol`` are used when present). Stimulation and inhibition together
      give ``+-`` (the ``dual`` policy of `harmonise_edges` decides), neither gives ``?``;
      undirected rows are dropped and counted, or kept as directed.
    - ``dorothea``: ``tf, confidence, target, mor``; only ``dorothea_levels`` are kept.
    - ``go``: ``source, target, importance`` (the GEARS GO graph) is an unsigned similarity;
      it enters the signed KB only with ``go_as: positive`` (every edge an activation),
      keeping edges with importance >= ``go_min_importance``.

    Returns the normalised table and a report of the rows each rule dropped.
    """
    dropped: list[tuple[str, str, int]] = []

    def keep(mask: pd.Series, reason: str, table: pd.DataFrame) -> pd.DataFrame:
        n = int((~mask).sum())
        if n:
            dropped.append(("dropped", reason, n))
        return table[mask.to_numpy()]

    if format == "regulondb":
        _require_columns(raw, ["regulator", "target", "effect"], source)
        table = raw[["regulator", "target", "effect"]]
    elif format == "collectri":
        _require_columns(raw, ["source", "target", "weight"], source)
        effect = _effect_from_sign(raw["weight"], source, raw["source"])
        table = pd.DataFrame(
            {"regulator": raw["source"], "target": raw["target"], "effect": effect}
        )
    elif format == "dorothea":
        _require_columns(raw, ["tf", "confidence", "target", "mor"], source)
        unknown = sorted(set(dorothea_levels) - set(DOROTHEA_LEVELS))
        if unknown:
            raise InputError(
                f"unknown DoRothEA confidence level(s) {unknown}; expected {list(DOROTHEA_LEVELS)}",
                source="parameters",
                column="dorothea_levels",
            )
        level = raw["confidence"].astype(str).str.strip().str.upper()
        bad = ~level.isin(DOROTHEA_LEVELS)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"unknown confidence level {raw['confidence'].iloc[row]!r}; expected "
                f"{list(DOROTHEA_LEVELS)}",
                source=source,
                column="confidence",
                row=row,
                gene=str(raw["tf"].iloc[row]),
            )
        raw = keep(level.isin(dorothea_levels), "confidence level not kept", raw)
        effect = _effect_from_sign(raw["mor"], source, raw["tf"])
        table = pd.DataFrame({"regulator": raw["tf"], "target": raw["target"], "effect": effect})
    elif format == "omnipath":
        _require_columns(raw, ["source", "target", "is_directed"], source)
        prefix = "consensus_" if omnipath_consensus else "is_"
        columns = [f"{prefix}stimulation", f"{prefix}inhibition"]
        _require_columns(raw, columns, source)
        directed = _truthy(raw["is_directed"], source)
        if omnipath_undirected == "drop":
            raw = keep(directed, "undirected interaction", raw)
        stimulation = _truthy(raw[columns[0]], source).to_numpy()
        inhibition = _truthy(raw[columns[1]], source).to_numpy()
        effect = np.select(
            [stimulation & inhibition, stimulation, inhibition], ["+-", "+", "-"], "?"
        )
        names = [
            f"{side}_genesymbol" if f"{side}_genesymbol" in raw.columns else side
            for side in ("source", "target")
        ]
        table = pd.DataFrame(
            {"regulator": raw[names[0]], "target": raw[names[1]], "effect": effect}
        )
    elif format == "go":
        _require_columns(raw, ["source", "target", "importance"], source)
        if go_as != "positive":
            raise InputError(
                "the GO graph is an unsigned similarity, not a signed GRN; set "
                "data_processing.edges.go_as: positive to use its edges as activations",
                source=source,
                column="importance",
            )
        importance = pd.to_numeric(raw["importance"], errors="coerce")
        raw = keep(importance >= go_min_importance, "importance below go_min_importance", raw)
        raw = keep(raw["source"] != raw["target"], "self-loop", raw)
        table = pd.DataFrame({"regulator": raw["source"], "target": raw["target"], "effect": "+"})
    else:
        raise InputError(
            f"unknown edge format {format!r}; expected one of {list(EDGE_FORMATS)}",
            source="parameters",
            column="format",
        )
    report = pd.DataFrame(dropped, columns=["action", "reason", "rows"])
    if len(dropped):
        log.info("%s (%s): dropped %s", source, format, {r: n for _, r, n in dropped})
    return table.reset_index(drop=True), report


def _key(name: object) -> str:
    """Case-folded lookup key; Ensembl IDs lose their version (ENSG0001.12 -> ensg0001)."""
    key = str(name).strip().lower()
    match = _ENSEMBL_VERSION.match(key)
    return match.group(1) if match else key


def name_resolver(
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None = None,
    aliases: Sequence[str] = (),
) -> dict[str, tuple]:
    """Map case-folded identifiers, names, ``aliases`` columns of the gene table (e.g. an
    Ensembl ID next to a symbol) and synonyms to tuples of gene IDs."""
    _require_columns(genes, ["gene_id", "gene_name", *aliases], "gene table")
    resolver: dict[str, tuple] = {}
    for gene_id in genes["gene_id"]:
        resolver[_key(gene_id)] = (gene_id,)
    for column in ("gene_name", *aliases):
        for gene_id, name in zip(genes["gene_id"], genes[column], strict=True):
            if isinstance(name, str) and name:
                resolver.setdefault(_key(name), (gene_id,))
    if synonyms is not None:
        _require_columns(synonyms, ["name", "genes"], "synonym table")
        for row, (name, members) in enumerate(
            zip(synonyms["name"], synonyms["genes"], strict=True)
        ):
            resolved = [resolver.get(_key(m)) for m in str(members).split(";")]
            if any(r is None for r in resolved):
                raise InputError(
                    f"synonym {name!r} names a gene absent from the gene table",
                    source="synonym table",
                    column="genes",
                    row=row,
                    gene=members,
                )
            resolver.setdefault(_key(name), tuple(g for r in resolved for g in r))
    return resolver


def _resolve(name: str, resolver: dict[str, tuple], composite: str) -> tuple | None:
    parts = [p.strip() for p in str(name).split(";") if p.strip()]
    resolved = [resolver.get(_key(p)) for p in parts]
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
    aliases: Sequence[str] = (),
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn ``regulator, target, effect`` rows into signed edges between gene IDs.

    ``effect`` is ``+``, ``-``, ``+-`` (dual, by ``dual``) or ``?`` (by ``unknown``).
    Names resolve through gene IDs, gene names and ``synonyms`` (case-insensitive). A
    composite regulator (``flhD;flhC``) gives every subunit the edge (``split``) or is
    dropped. Names that are not genes (metabolites, tRNAs) are dropped and counted, or
    raise with ``unresolved="error"``. Other formats go through `edge_effects` first.
    Returns the edges (``regulator, target, sign,
    regulator_name, effect``) and a report of every drop and expansion.
    """
    _require_columns(raw, ["regulator", "target", "effect"], source)
    resolver = name_resolver(genes, synonyms, aliases)
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


def _drop_or_raise(
    lost: np.ndarray,
    genes: pd.Series,
    policy: DropPolicy,
    reason: str,
    counts: list[tuple[str, str, int]],
    source: str,
) -> None:
    """Count the rows ``lost`` under ``reason``, or raise naming the first one's row."""
    if not lost.any():
        return
    first = int(np.flatnonzero(lost)[0])
    if policy == "error":
        raise InputError(
            f"{genes.name} is {reason}",
            source=source,
            column=str(genes.name),
            row=int(genes.index[first]),
            gene=str(genes.iloc[first]),
        )
    distinct = genes[lost].nunique()
    counts.append(("dropped", f"{genes.name} {reason} ({distinct} genes)", int(lost.sum())))


def harmonise_gene_graph(
    raw: pd.DataFrame,
    genes: pd.DataFrame,
    universe: Sequence[str],
    synonyms: pd.DataFrame | None = None,
    *,
    min_importance: float = 0.0,
    top_k: int | None = 20,
    unresolved: DropPolicy = "drop",
    unmeasured: DropPolicy = "drop",
    aliases: Sequence[str] = (),
    source: str = "gene graph",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An unsigned gene graph (``source, target[, importance]``, e.g. GEARS ``go.csv``)
    as weighted edges between universe gene IDs, for the GNN f_y only (section 3.3).

    Names resolve as in `harmonise_edges` (IDs, names, ``aliases``, synonyms; a synonym
    naming several genes gives each the edge). Names that are not genes of the gene table
    (``unresolved``) and genes outside ``universe`` (``unmeasured``) are dropped and
    counted, or raise. Self-loops are dropped (the GNN adds its own), duplicates merge
    keeping the highest importance, edges with importance < ``min_importance`` are
    dropped and every target keeps its ``top_k`` most important in-edges (GEARS keeps
    20; None keeps all). A table without ``importance`` is unweighted (1) and not cut.
    Returns ``source, target, weight`` (messages flow source -> target) and a report.
    """
    _require_columns(raw, ["source", "target"], source)
    weighted = "importance" in raw.columns
    if weighted:
        importance = pd.to_numeric(raw["importance"], errors="coerce")
        bad = ~np.isfinite(importance.to_numpy(dtype=float)) | (importance < 0).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"importance must be a finite number >= 0, found {raw['importance'].iloc[row]!r}",
                source=source,
                column="importance",
                row=row,
                gene=str(raw["source"].iloc[row]),
            )
    else:
        importance = pd.Series(1.0, index=raw.index)
    check_positive_int(top_k, "top_k", source="parameters", allow_none=True)
    resolver = name_resolver(genes, synonyms, aliases)
    measured = set(universe)
    table = pd.DataFrame(
        {"source": raw["source"], "target": raw["target"], "weight": importance.astype(float)}
    ).reset_index(drop=True)
    counts: list[tuple[str, str, int]] = [("input", "rows in the gene graph", len(table))]
    for column in ("source", "target"):
        empty = table[column].isna().to_numpy()
        if empty.any():
            row = int(table.index[np.flatnonzero(empty)[0]])
            raise InputError("empty value", source=source, column=column, row=row)
        names = table[column].astype(str)
        ids = {name: _resolve(name, resolver, "split") for name in pd.unique(names)}
        unknown = names.map(ids).isna().to_numpy()
        _drop_or_raise(unknown, names, unresolved, "not a gene of the gene table", counts, source)
        table = table[~unknown].assign(**{column: names[~unknown].map(ids)}).explode(column)
        outside = ~table[column].isin(measured).to_numpy()
        reason = "not measured (outside the gene universe)"
        _drop_or_raise(outside, table[column], unmeasured, reason, counts, source)
        table = table[~outside]
    counts.append(("dropped", "self-loop", int((table["source"] == table["target"]).sum())))
    table = table[table["source"] != table["target"]]
    table = table.sort_values("weight", ascending=False, kind="stable")
    deduplicated = table.drop_duplicates(["source", "target"])
    counts.append(
        ("merged", "duplicate edges (highest importance kept)", len(table) - len(deduplicated))
    )
    table = deduplicated
    if weighted:
        kept = table["weight"] >= min_importance
        counts.append(
            ("dropped", f"importance below min_importance {min_importance}", int((~kept).sum()))
        )
        table = table[kept]
        if top_k is not None:
            kept = table.groupby("target", sort=False).cumcount() < top_k
            counts.append(
                ("dropped", f"beyond the top {top_k} in-edges of a target", int((~kept).sum()))
            )
            table = table[kept]
    table = table.sort_values(["target", "weight", "source"], ascending=[True, False, True])
    table = table.reset_index(drop=True)
    counts.append(("output", "gene graph edges", len(table)))
    report = pd.DataFrame(counts, columns=["action", "reason", "rows"])
    log.info(
        "%s: %d rows -> %d edges between %d genes%s; dropped %s",
        source,
        len(raw),
        len(table),
        len(pd.unique(table[["source", "target"]].to_numpy().ravel())),
        "" if weighted else " (no importance column: unweighted, not cut by top_k)",
        {r: n for a, r, n in counts if a != "input" and a != "output" and n} or "nothing",
    )
    return table[["source", "target", "weight"]], report


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
    aliases: Sequence[str] = (),
    source: str = "design table",
) -> pd.DataFrame:
    """Rewrite the ``perturbation`` column (names joined by ``+``) as gene IDs."""
    _require_columns(design, ["condition", "perturbation"], source)
    resolver = name_resolver(genes, synonyms, aliases)

    def to_ids(value: str, row: object) -> str:
        ids = []
        for name in filter(None, (p.strip() for p in str(value).split("+"))):
            found = resolver.get(_key(name))
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
