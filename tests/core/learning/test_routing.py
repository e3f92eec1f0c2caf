"""Input-dependent routing: the KB's path evidence, the route features, the smooth
F1_balance, the fitted per-input prior, the adaptive f_a in training and prediction, and a
synthetic GRN whose KB is right through short paths and wrong through long ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import consistency_scores
from aligned_kedro.core.knowledge.deduction import closure, deduce
from aligned_kedro.core.knowledge.kb import compile_kb
from aligned_kedro.core.learning.adaptor import adaptor_bias, balanced_routing, combine
from aligned_kedro.core.learning.inference import predict
from aligned_kedro.core.learning.models import ModelConfig, build_model
from aligned_kedro.core.learning.routing import (
    ROUTE_FEATURES,
    RouteHead,
    RouteInputs,
    fit_router,
    path_evidence,
    prior_head,
    route_features,
    soft_balanced_f1,
)
from aligned_kedro.core.learning.trained import TrainConfig, from_state, to_state
from aligned_kedro.core.learning.training import out_of_fold_predictions, train

CPU = torch.device("cpu")


def chain_kb():
    """a → b (+), b → c (−), a → d (−), d → c (−): c gets one walk of each sign."""
    genes = ["a", "b", "c", "d", "e"]
    edges = pd.DataFrame(
        [("a", "b", 1), ("b", "c", -1), ("a", "d", -1), ("d", "c", -1)],
        columns=["regulator", "target", "sign"],
    )
    return compile_kb(edges, genes), genes


def test_path_evidence_on_a_hand_built_grn() -> None:
    """Knocking out a: b and d are one interaction away, c two, e none; c's walks cancel."""
    kb, _ = chain_kb()
    X = np.array([[-1, 0, 0, 0, 0], [0, 1, 0, 0, 0]])
    evidence = path_evidence(kb, X, k=1)
    np.testing.assert_array_equal(evidence.distance[0], [0, 1, 2, 1, np.inf])
    np.testing.assert_array_equal(evidence.distance[1], [np.inf, 0, 1, np.inf, np.inf])
    assert evidence.up[0, 2] == evidence.down[0, 2] == 1
    assert evidence.down[0, 1] > 0 and evidence.up[0, 1] == 0
    assert evidence.up[0, 3] > 0 and evidence.down[0, 3] == 0
    np.testing.assert_array_equal(evidence.n_perturbed, [1, 1])
    assert np.isinf(path_evidence(kb, X[:1], k=0).distance[0, 2])


small_grns = st.integers(3, 7).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from([-1, 1])),
            min_size=1,
            max_size=12,
        ),
        st.integers(0, 3),
        st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from([-1, 1])), min_size=1),
    )
)


@settings(max_examples=25, deadline=None)
@given(small_grns)
def test_path_evidence_agrees_with_the_closure_and_breadth_first_search(case) -> None:
    """up − down is xᵀ(R+(k) − R−(k)) of the full closure, so its sign is δ_KB; up + down
    counts every walk; the distance is the fewest off-diagonal steps, within k+1."""
    n, edges, k, perturbations = case
    genes = [f"g{i}" for i in range(n)]
    table = pd.DataFrame(
        [(genes[r], genes[t], s) for r, t, s in edges], columns=["regulator", "target", "sign"]
    ).drop_duplicates(["regulator", "target"])
    kb = compile_kb(table, genes, conflict="both")
    X = np.zeros((len(perturbations), n), dtype=np.int8)
    for row, (gene, sign) in enumerate(perturbations):
        X[row, gene] = sign
    evidence = path_evidence(kb, X, k)
    r_pos, r_neg = (m.toarray() if sp.issparse(m) else m for m in closure(kb, k))
    np.testing.assert_allclose(evidence.up - evidence.down, X @ (r_pos - r_neg))
    np.testing.assert_allclose(evidence.up + evidence.down, np.abs(X) @ (r_pos + r_neg))
    np.testing.assert_array_equal(np.sign(evidence.up - evidence.down), deduce(kb, X, k))
    step = ((kb.r_pos + kb.r_neg).toarray() > 0) & ~np.eye(n, dtype=bool)
    for row in range(len(X)):
        reached, expected = X[row] != 0, np.where(X[row] != 0, 0.0, np.inf)
        for length in range(1, k + 2):
            reached = reached | (reached @ step > 0)
            expected[reached & np.isinf(expected)] = length
        np.testing.assert_array_equal(evidence.distance[row], expected)


def test_route_features_of_a_hand_built_case() -> None:
    kb, _ = chain_kb()
    X = np.array([[-1, 0, 0, 0, 0]])
    evidence = path_evidence(kb, X, k=1)
    kb_pred = torch.as_tensor(deduce(kb, X, 1))
    probs = torch.tensor([[[0.2, 0.5, 0.3]] * 5])
    features = route_features(kb_pred, probs, evidence.tensors(CPU))
    assert features.shape == (1, 5, len(ROUTE_FEATURES))
    column = {name: features[0, :, i].numpy() for i, name in enumerate(ROUTE_FEATURES)}
    np.testing.assert_array_equal(column["kb_answers"], [1, 1, 0, 1, 0])
    np.testing.assert_array_equal(column["self"], [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(column["path_1"], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(column["path_2"], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(column["balance"], [1, 1, 0, 1, 0])
    np.testing.assert_allclose(column["p_kb_answer"], [0.2, 0.2, 0.5, 0.3, 0.5])
    np.testing.assert_allclose(column["p_no_change"], 0.5)
    assert column["extra_perturbed"].max() == 0
    assert column["log_walks"][4] == 0 and column["log_walks"][0] > 0


def test_an_untrained_route_head_leaves_the_prior() -> None:
    head = RouteHead(8)
    assert torch.equal(head(torch.randn(3, 4, len(ROUTE_FEATURES))), torch.zeros(3, 4))


def test_a_head_scoped_to_kb_answers_moves_only_the_outputs_the_kb_answers() -> None:
    """``route_scope: kb_answers``: r is 0 where δ_KB(x)_g = 0, the head's value elsewhere;
    the scope travels with the state into the frozen prior head."""
    features = torch.rand(3, 5, len(ROUTE_FEATURES))
    answers = torch.tensor([[1.0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1]])
    features[..., ROUTE_FEATURES.index("kb_answers")] = answers
    scoped, everywhere = RouteHead(4, "kb_answers"), RouteHead(4)
    for head in (scoped, everywhere):
        with torch.no_grad():
            head.net[-1].bias.fill_(1.5)
    assert torch.equal(everywhere(features), torch.full((3, 5), 1.5))
    assert torch.equal(scoped(features), 1.5 * answers)
    frozen = prior_head(scoped.state_dict(), CPU)
    assert torch.equal(frozen(features), 1.5 * answers)
    assert torch.equal(prior_head(everywhere.state_dict(), CPU)(features), torch.full((3, 5), 1.5))
    with pytest.raises(InputError, match="route scope must be one of"):
        RouteHead(4, "short_paths")
    with pytest.raises(InputError, match="route_scope must be one of"):
        ModelConfig(n_genes=3, routing="adaptive", route_scope="short_paths")


ternary = st.integers(1, 5).flatmap(
    lambda m: st.lists(
        st.tuples(st.integers(-1, 1), st.integers(-1, 1), st.integers(-1, 1), st.booleans()),
        min_size=m * 3,
        max_size=m * 3,
    ).map(lambda cells, m=m: np.array(cells).reshape(m, 3, 4))
)


@settings(max_examples=60, deadline=None)
@given(ternary)
def test_smooth_balanced_f1_is_the_real_one_for_a_hard_routing(cells) -> None:
    Y, H, K, a = (cells[..., i] for i in range(4))
    expected = consistency_scores(Y, combine(a, H, K), K)["balanced_f1"]
    found = soft_balanced_f1(*(torch.as_tensor(v, dtype=torch.float32) for v in (a, Y, H, K)))
    assert float(found) == pytest.approx(expected, abs=1e-5)


@dataclass
class ShortRightLongWrong:
    """Regulators r_i reach two targets directly and three through their mediator m_i.
    The KB is right through the direct edges and wrong through the mediated paths (the
    targets do not respond), so the same target t_j is right for one input and wrong for
    another; noise genes respond at random, so data consistency binds."""

    kb: object
    genes: list[str]
    X: np.ndarray
    Y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    X_u: np.ndarray
    targets: np.ndarray

    @classmethod
    def make(cls, seed: int = 0) -> ShortRightLongWrong:
        rng = np.random.default_rng(seed)
        regulators, targets, noise = 24, 10, 12
        genes = (
            [f"r{i}" for i in range(regulators)]
            + [f"m{i}" for i in range(regulators)]
            + [f"t{j}" for j in range(targets)]
            + [f"s{j}" for j in range(noise)]
        )
        index = {g: i for i, g in enumerate(genes)}
        edges, X, Y = [], np.zeros((regulators, len(genes)), np.int8), None
        Y = np.zeros_like(X)
        for i, sign in enumerate(rng.choice([-1, 1], regulators)):
            order = rng.permutation(targets)
            direct, mediated = order[:2], order[2:5]
            edges += [(f"r{i}", f"t{j}", 1) for j in direct]
            edges += [(f"r{i}", f"m{i}", 1)] + [(f"m{i}", f"t{j}", 1) for j in mediated]
            X[i, i] = Y[i, i] = Y[i, index[f"m{i}"]] = sign
            Y[i, [index[f"t{j}"] for j in direct]] = sign
            responding = rng.choice(noise, noise // 3, replace=False)
            Y[i, [index[f"s{j}"] for j in responding]] = rng.choice([-1, 1], len(responding))
        kb = compile_kb(pd.DataFrame(edges, columns=["regulator", "target", "sign"]), genes)
        return cls(
            kb=kb,
            genes=genes,
            X=X,
            Y=Y,
            train=np.arange(16),
            test=np.arange(16, regulators),
            X_u=np.eye(len(genes), dtype=np.int8)[:regulators],
            targets=np.array([index[f"t{j}"] for j in range(targets)]),
        )


K_SYNTHETIC = 2
SYNTHETIC_MODEL = ModelConfig(
    model_type="mlp", n_genes=70, hidden=16, layers=2, routing="adaptive", route_hidden=8
)
SYNTHETIC_TRAINING = TrainConfig(epochs=60, device="cpu", log_every=60)


@pytest.fixture(scope="module")
def routed() -> dict:
    """The adaptive adaptor trained on the synthetic GRN, its prior fitted out of fold."""
    case = ShortRightLongWrong.make()
    X, Y = case.X[case.train], case.Y[case.train]
    kb_train, kb_test, kb_u = (
        deduce(case.kb, x, K_SYNTHETIC) for x in (X, case.X[case.test], case.X_u)
    )
    folds = [np.arange(i, len(X), 4) for i in range(4)]
    y_oof, p_oof = out_of_fold_predictions(
        X, Y, folds, SYNTHETIC_MODEL, SYNTHETIC_TRAINING, probabilities=True
    )
    w, _ = balanced_routing(Y, y_oof, kb_train)
    evidence = {
        name: path_evidence(case.kb, x, K_SYNTHETIC)
        for name, x in (("train", X), ("test", case.X[case.test]), ("u", case.X_u))
    }
    route = fit_router(Y, y_oof, p_oof, kb_train, evidence["train"], adaptor_bias(w), hidden=8)
    trained = train(
        X,
        Y,
        kb_train,
        case.X_u,
        kb_u,
        w,
        SYNTHETIC_MODEL,
        SYNTHETIC_TRAINING,
        routing=RouteInputs(evidence["train"], evidence["u"], route),
    )
    out = predict(trained, case.X[case.test], kb_test, evidence["test"])
    return {"case": case, "w": w, "out": out, "kb_test": kb_test, "evidence": evidence, **locals()}


def test_the_adaptor_routes_a_gene_by_its_input_where_the_kb_is_right_only_sometimes(
    routed,
) -> None:
    """On unseen perturbations, each target takes δ where a direct edge reaches it and ŷ
    where only a mediated path does: per gene, one route for some inputs and the other
    for the rest, which no per-gene (static) routing can do."""
    case, out = routed["case"], routed["out"]
    distance = routed["evidence"]["test"].distance[:, case.targets]
    a = out["a"][:, case.targets]
    direct, mediated = a[distance == 1], a[distance == 2]
    assert len(direct) >= 10 and len(mediated) >= 10
    accuracy = np.concatenate([direct == 1, mediated == 0]).mean()
    assert accuracy >= 0.9, (direct.mean(), mediated.mean())
    kb_test, y = routed["kb_test"], case.Y[case.test]
    static = combine(np.broadcast_to(routed["w"] >= 0.5, y.shape), out["y_hat"], kb_test)
    adaptive = consistency_scores(y, out["y_bar"], kb_test)["balanced_f1"]
    assert adaptive > consistency_scores(y, static, kb_test)["balanced_f1"] + 0.05


def test_the_fitted_prior_already_routes_by_path_length(routed) -> None:
    case, X = routed["case"], routed["X"]
    head = RouteHead(8)
    head.load_state_dict(routed["route"])
    features = route_features(
        torch.as_tensor(routed["kb_train"]),
        torch.as_tensor(routed["p_oof"]),
        routed["evidence"]["train"].tensors(CPU),
    )
    with torch.no_grad():
        p_kb = torch.sigmoid(torch.as_tensor(adaptor_bias(routed["w"])).float() + head(features))
    distance = routed["evidence"]["train"].distance[:, case.targets]
    p_targets = p_kb.numpy()[:, case.targets]
    assert p_targets[distance == 1].mean() > 0.9 > 0.5 > p_targets[distance == 2].mean()
    assert len(X) == 16


def test_an_adaptive_model_saves_and_loads_with_its_route_head(routed) -> None:
    case, trained = routed["case"], routed["trained"]
    again = from_state(to_state(trained))
    x, kb_test, evidence = case.X[case.test], routed["kb_test"], routed["evidence"]["test"]
    for key, value in predict(again, x, kb_test, evidence).items():
        np.testing.assert_array_equal(value, routed["out"][key])


def test_an_adaptive_adaptor_needs_its_path_evidence(routed) -> None:
    case, trained = routed["case"], routed["trained"]
    x, kb_test = case.X[case.test], routed["kb_test"]
    with pytest.raises(InputError, match="path evidence"):
        predict(trained, x, kb_test)
    with pytest.raises(InputError, match="path evidence"):
        predict(trained, x, kb_test, routed["evidence"]["train"])
    X, Y, kb_train, w = routed["X"], routed["Y"], routed["kb_train"], routed["w"]
    with pytest.raises(InputError, match="adaptive adaptor needs route inputs"):
        train(X, Y, kb_train, None, None, w, SYNTHETIC_MODEL, SYNTHETIC_TRAINING)
    static = ModelConfig(model_type="mlp", n_genes=70, hidden=16, layers=2)
    with pytest.raises(InputError, match="static adaptor takes no route inputs"):
        train(
            X,
            Y,
            kb_train,
            None,
            None,
            w,
            static,
            SYNTHETIC_TRAINING,
            routing=RouteInputs(routed["evidence"]["train"]),
        )
    with pytest.raises(InputError, match="X_u is given without its path evidence"):
        train(
            X,
            Y,
            kb_train,
            case.X_u,
            routed["kb_u"],
            w,
            SYNTHETIC_MODEL,
            SYNTHETIC_TRAINING,
            routing=RouteInputs(routed["evidence"]["train"]),
        )


def test_an_adaptive_model_starts_as_the_static_one_of_its_seed() -> None:
    """The route head is built last: f_y's and f_a's initial weights are those of the
    static model, so static and adaptive runs compare the same f_y."""
    static = build_model(ModelConfig(model_type="mlp", n_genes=12, seed=3))
    adaptive = build_model(ModelConfig(model_type="mlp", n_genes=12, seed=3, routing="adaptive"))
    adaptive_state = adaptive.state_dict()
    for name, value in static.state_dict().items():
        assert torch.equal(value, adaptive_state[name]), name
    assert set(adaptive_state) - set(static.state_dict()) == {
        f"route_head.net.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")
    } | {"route_head.answers_only"}
    with pytest.raises(InputError, match="routing must be one of"):
        ModelConfig(n_genes=3, routing="oracle")
    with pytest.raises(InputError, match="does not fit a route head of width 16"):
        adaptive.init_adaptor(np.full(12, 0.5), RouteHead(4).state_dict())
    with pytest.raises(InputError, match="static adaptor takes no route state"):
        static.init_adaptor(np.full(12, 0.5), RouteHead(16).state_dict())
