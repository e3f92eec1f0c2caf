"""Requests as users write them: names, synonyms, combinations, types, and every bad input."""

from __future__ import annotations

import pandas as pd
import pytest
import small_bundle

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.prediction import Bundle, parse_requests, resolve_requests


@pytest.fixture(name="bundle")
def bundle_fixture() -> Bundle:
    return small_bundle.bundle()


def resolve(bundle: Bundle, perturbations, **kwargs):
    requests = parse_requests(perturbations, **kwargs)
    return resolve_requests(requests, bundle.genes, bundle.gene_ids, bundle.synonyms)


def test_a_semicolon_string_with_combinations_any_case_ids_and_synonyms(bundle: Bundle):
    table, X = resolve(bundle, " crp ; FNR+b0003;CAP+soxS ;anaerobic pair")
    assert table["perturbation"].tolist() == ["crp", "FNR+b0003", "CAP+soxS", "anaerobic pair"]
    assert table["gene_ids"].tolist() == ["b0001", "b0002+b0003", "b0001+b0005", "b0002+b0004"]
    assert X.shape == (4, 7) and X.dtype.kind == "i"
    assert X.toarray().tolist()[1] == [0, -1, -1, 0, 0, 0, 0]


def test_types_per_request_and_per_gene(bundle: Bundle):
    requests = pd.DataFrame(
        {
            "perturbation": ["crp", "fnr+narK", "soxS", "gadE"],
            "perturbation_type": ["CRISPRa", "KO+OE", None, "knockdown"],
        }
    )
    _, X = resolve_requests(
        parse_requests(requests), bundle.genes, bundle.gene_ids, bundle.synonyms
    )
    dense = X.toarray()
    assert dense[0, 0] == 1 and (dense[1, 1], dense[1, 2]) == (-1, 1)
    assert dense[2, 4] == -1 and dense[3, 5] == -1


def test_a_list_is_one_perturbation_per_item(bundle: Bundle):
    table, _ = resolve(bundle, ["crp", "crp+fnr"], default_type="OE")
    assert table["perturbation_type"].tolist() == ["OE", "OE"]


@pytest.mark.parametrize("request_", ["", " ; ", [], pd.DataFrame({"perturbation": []})])
def test_an_empty_request_is_refused(request_):
    with pytest.raises(InputError, match="names no perturbation"):
        parse_requests(request_)


@pytest.mark.parametrize(
    ("request_", "message"),
    [("crp;;fnr", "perturbation 2 of 3 is empty"), ("crp+", "has an empty gene name")],
)
def test_an_empty_perturbation_or_gene_is_refused(request_: str, message: str):
    with pytest.raises(InputError, match=message):
        parse_requests(request_)


def test_an_unknown_gene_names_the_closest_known_names(bundle: Bundle):
    with pytest.raises(InputError) as error:
        resolve(bundle, "crp;crpp+fnr")
    message = str(error.value)
    assert "unknown gene 'crpp'" in message and "closest known names: crp" in message
    assert error.value.row == 1 and error.value.gene == "crpp"


def test_a_gene_outside_the_model_is_refused(bundle: Bundle):
    with pytest.raises(InputError, match=r"b0008 \(ompF\).*not among the model's 7 genes"):
        resolve(bundle, "ompF")


def test_a_duplicate_request_is_refused(bundle: Bundle):
    with pytest.raises(InputError, match=r"'CAP' \(KO\) is asked twice: rows 0 and 2"):
        resolve(bundle, "crp;fnr;CAP")
    resolve(
        bundle, pd.DataFrame({"perturbation": ["crp", "crp"], "perturbation_type": ["KO", "OE"]})
    )


def test_a_gene_named_twice_in_a_perturbation_is_refused(bundle: Bundle):
    with pytest.raises(InputError, match=r"names gene b0001 \(crp\) twice"):
        resolve(bundle, "crp+CAP")


def test_an_unknown_perturbation_type_is_refused(bundle: Bundle):
    requests = pd.DataFrame({"perturbation": ["crp"], "perturbation_type": ["delete"]})
    with pytest.raises(InputError, match="unknown perturbation type 'delete'"):
        resolve(bundle, requests)
    requests = pd.DataFrame({"perturbation": ["crp+fnr"], "perturbation_type": ["KO+OE+KO"]})
    with pytest.raises(InputError, match="one type or one per gene"):
        resolve(bundle, requests)


def test_a_table_without_a_perturbation_column_is_refused():
    with pytest.raises(InputError, match="missing column"):
        parse_requests(pd.DataFrame({"gene": ["crp"]}))
