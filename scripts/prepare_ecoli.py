"""Derive the bundled E. coli K-12 default data from the pymodulon 0.2.1 wheel.

Provenance: the PyPI wheel ``pymodulon==0.2.1`` (MIT licence) ships the PRECISE
RNA-seq compendium (Sastry et al. 2019) and a signed TRN derived from RegulonDB under
``pymodulon/data/ecoli/``. This script downloads the wheel with
``pip download --no-deps``, reads it as a zip archive without installing it, and writes
compact tables to ``data/01_raw/ecoli/``:

- ``expression.parquet``: log2(TPM+1), genes (b-numbers) x the samples of the design,
  float32.
- ``samples.tsv``: sample metadata (project, condition, strain, growth conditions).
- ``design.tsv``: knockout conditions matched to wild-type controls (rules below).
- ``genes.tsv``: b-number, gene name and GO-term count (eggNOG GOs column).
- ``trn.tsv.gz``: the signed TRN as shipped (regulator name, target b-number, effect).

Design rules, applied per (project, condition):

- A strain is a knockout when its 'Strain Description' carries ``del_<gene>`` tokens;
  several tokens give a multi-gene knockout (``menF+entC``).
- Point mutants and partial deletions (``rpoBE546V``, ``crp_delAr1``) and adaptive
  laboratory evolution isolates (any other token, or 'Evolved Sample' != No) are not
  knockouts and are excluded; they are counted in the printed summary.
- Controls are wild-type samples (no extra token, not evolved) of the same project
  grown in the same environment: base medium, carbon, nitrogen, electron acceptor,
  supplement, temperature and pH. The selection antibiotic of the knockout is not part
  of the environment. ``background_matched`` says whether the control has the same
  K-12 background (MG1655 or BW25113) as the knockout; the pipeline can require it.
- Each sample appears once. Wild types of one environment and background form one
  ``control_group``, which every matched knockout condition names.
- A knockout condition with no such control keeps its rows with an empty
  ``control_group`` so that the pipeline reports it rather than losing it here.

Run: ``python scripts/prepare_ecoli.py [--wheel PATH] [--out data/01_raw/ecoli]``.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

WHEEL = "pymodulon==0.2.1"
PREFIX = "pymodulon/data/ecoli/"
ENVIRONMENT = [
    "Base Media",
    "Carbon Source (g/L)",
    "Nitrogen Source (g/L)",
    "Electron Acceptor",
    "Supplement",
    "Temperature (C)",
    "pH",
]
BACKGROUNDS = ("MG1655", "BW25113")
SPECIES_TOKENS = {"Escherichia", "coli", "K-12", *BACKGROUNDS}
SAMPLE_COLUMNS = ["project", "condition", "Strain Description", "Strain", *ENVIRONMENT]
SAMPLE_COLUMNS += ["Antibiotic", "Culture Type", "Evolved Sample", "Replicate #", "DOI", "GEO"]


def download_wheel(directory: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(directory)],
        check=True,
    )
    return next(directory.glob("pymodulon-*.whl"))


def read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    return archive.read(PREFIX + name)


def strain_tokens(description: str) -> tuple[str | None, list[str], list[str]]:
    """Split a strain description into background, deleted genes and other tokens."""
    tokens = description.split()
    background = next((b for b in BACKGROUNDS if b in tokens), None)
    deleted = [t.removeprefix("del_") for t in tokens if t.startswith("del_")]
    other = [t for t in tokens if t not in SPECIES_TOKENS and not t.startswith("del_")]
    return background, deleted, other


def build_design(samples: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per sample: knockouts name the control group of matched wild types."""
    parsed = samples["Strain Description"].map(strain_tokens)
    table = samples.assign(
        background=[p[0] for p in parsed],
        deleted=["+".join(p[1]) for p in parsed],
        other=[" ".join(p[2]) for p in parsed],
        environment=samples[["project", *ENVIRONMENT]].astype(str).agg("|".join, axis=1),
    )
    not_evolved = table["Evolved Sample"].eq("No")
    clean = table["other"].eq("") & table["background"].notna() & not_evolved
    wild_type = table[clean & table["deleted"].eq("")]
    knockouts = table[clean & table["deleted"].ne("")]
    excluded = table[~clean]
    wild_type = wild_type.assign(
        control_group="ctrl__"
        + wild_type.groupby(["environment", "background"])["condition"]
        .transform("first")
        .radd(wild_type["project"] + "__")
    )
    rows, used_groups = [], set()
    for (project, condition), group in knockouts.groupby(["project", "condition"], sort=True):
        controls = wild_type[wild_type["environment"].eq(group["environment"].iloc[0])]
        background = group["background"].iloc[0]
        same = controls[controls["background"].eq(background)]
        chosen = same if len(same) else controls
        control_group = chosen["control_group"].iloc[0] if len(chosen) else ""
        used_groups.add(control_group)
        for sample_id in group.index:
            rows.append(
                (
                    sample_id,
                    f"{project}__{condition}",
                    "perturbed",
                    group["deleted"].iloc[0],
                    "KO",
                    control_group,
                    background,
                    bool(len(same)),
                )
            )
    for sample_id, sample in wild_type[wild_type["control_group"].isin(used_groups)].iterrows():
        rows.append(
            (
                sample_id,
                f"{sample['project']}__{sample['condition']}",
                "control",
                "",
                "",
                sample["control_group"],
                sample["background"],
                pd.NA,
            )
        )
    columns = [
        "sample_id",
        "condition",
        "role",
        "perturbation",
        "perturbation_type",
        "control_group",
        "background",
        "background_matched",
    ]
    design = pd.DataFrame(rows, columns=columns)
    counts = {
        "samples": len(samples),
        "wild_type_samples": len(wild_type),
        "knockout_samples": len(knockouts),
        "excluded_mutant_or_evolved_samples": len(excluded),
        "knockout_conditions": design.loc[design["role"].eq("perturbed"), "condition"].nunique(),
        "conditions_without_control": int(
            design.loc[design["control_group"].eq(""), "condition"].nunique()
        ),
    }
    return design, counts


def go_counts(eggnog: bytes) -> pd.Series:
    """Distinct GO terms per b-number; rows carry more fields than the header names."""
    terms: dict[str, set[str]] = {}
    for line in eggnog.decode().splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        found = (
            {t for t in fields[6].split(",") if t.startswith("GO:")} if len(fields) > 6 else set()
        )
        terms.setdefault(fields[0], set()).update(found)
    return pd.Series({gene: len(found) for gene, found in terms.items()}, dtype=int)


def prepare(wheel: Path, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        expression = pd.read_csv(io.BytesIO(read_member(archive, "log_tpm.csv")), index_col=0)
        samples = pd.read_csv(io.BytesIO(read_member(archive, "sample_table.csv")), index_col=0)
        genes = pd.read_csv(io.BytesIO(read_member(archive, "gene_table.csv")), index_col=0)
        trn = pd.read_csv(io.BytesIO(read_member(archive, "trn.csv")))
        go = go_counts(read_member(archive, "eggNOG_annotations.txt"))
    expression.index.name = "gene_id"
    samples.index.name = "sample_id"
    samples[SAMPLE_COLUMNS].to_csv(out / "samples.tsv", sep="\t")
    design, counts = build_design(samples)
    design.to_csv(out / "design.tsv", sep="\t", index=False)
    expression = expression[design["sample_id"]].astype("float32")
    expression.to_parquet(out / "expression.parquet", compression="zstd")
    gene_table = pd.DataFrame(
        {
            "gene_id": genes.index,
            "gene_name": genes["gene_name"].to_numpy(),
            "go_count": go.reindex(genes.index).fillna(0).astype(int).to_numpy(),
        }
    )
    gene_table.to_csv(out / "genes.tsv", sep="\t", index=False)
    trn.rename(columns={"gene_id": "target"}).to_csv(
        out / "trn.tsv.gz", sep="\t", index=False, compression={"method": "gzip", "mtime": 0}
    )
    counts.update(
        expression_genes=expression.shape[0],
        expression_samples=expression.shape[1],
        trn_edges=len(trn),
        genes=len(gene_table),
    )
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="an already downloaded pymodulon wheel")
    parser.add_argument("--out", type=Path, default=Path("data/01_raw/ecoli"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        counts = prepare(wheel, args.out)
    for key, value in counts.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
