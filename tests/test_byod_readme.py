"""The README's "Bring your own data" snippets parse, name real parameters and build."""

import re
from pathlib import Path

import yaml
from kedro.io import DataCatalog

from aligned_kedro.hooks import dataset_parameters

ROOT = Path(__file__).resolve().parents[1]
SECTION = (ROOT / "README.md").read_text().split("## Bring your own data", 1)[1]
BLOCKS = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", SECTION, re.S)]
DEFAULTS = yaml.safe_load((ROOT / "conf/base/parameters_data_processing.yml").read_text())


def key_paths(tree: dict, prefix: tuple = ()) -> set[tuple]:
    paths = set()
    for key, value in tree.items():
        paths.add((*prefix, key))
        if isinstance(value, dict):
            paths |= key_paths(value, (*prefix, key))
    return paths


def test_every_parameter_in_the_examples_exists_in_the_defaults():
    known = key_paths(DEFAULTS)
    blocks = [
        {name: values for name, values in b.items() if "data_processing" in values} for b in BLOCKS
    ]
    blocks = [b for b in blocks if b]
    assert len(blocks) == 7
    for block in blocks:
        for dataset in block.values():
            for path in key_paths({"data_processing": dataset["data_processing"]}):
                assert path in known, path
        merged = dataset_parameters({"datasets": list(block), **DEFAULTS, **block})
        assert all("edges" in p["data_processing"] for p in merged.values())


def test_the_catalog_example_builds_and_an_empty_synonym_table_loads():
    (catalog,) = [b for b in BLOCKS if "norman.raw_cells" in b]
    built = DataCatalog.from_config(catalog)
    assert built.load("norman.raw_synonyms") == {}
    assert type(built.get("norman.round_1.align_metrics")).__name__ == "MetricsDataset"
