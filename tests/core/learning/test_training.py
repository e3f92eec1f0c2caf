"""Joint training of f_y and f_a (Eq. 5) on a synthetic GRN with a known answer,
determinism, save/load and input checks."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import consistency_scores, macro_f1
from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import compile_kb
from aligned_kedro.core.learning.adaptor import balanced_routing, combine, kb_usage, weight_vector
from aligned_kedro.core.learning.batches import class_weights
from aligned_kedro.core.learning.inference import predict
from aligned_kedro.core.learning.models import ModelConfig, kb_edge_index
from aligned_kedro.core.learning.trained import TrainConfig, TrainedModel, from_state, to_state
from aligned_kedro.core.learning.training import out_of_fold_predictions, train

N_GENES, N_REGULATORS, UNSEEN = 60, 12, 11
EPOCHS = 150


@dataclass
class Synthetic:
    """True GRN labels; δ from a KB whose edges into `corrupted` targets have flipped signs."""

    X_l: np.ndarray
    Y_l: np.ndarray
    kb_l: np.ndarray
    X_u: np.ndarray
    kb_u: np.ndarray
    X_t: np.ndarray
    Y_t: np.ndarray
    kb_t: np.ndarray
    w: np.ndarray
    corrupted: np.ndarray
    clean: np.ndarray
    edge_index: torch.Tensor


def knockouts(sets: list[tuple[int, ...]]) -> np.ndarray:
    X = np.zeros((len(sets), N_GENES), dtype=np.int8)
    for i, genes in enumerate(sets):
        X[i, list(genes)] = -1
    return X


def synthetic(seed: int = 0) -> Synthetic:
    """Random signed GRN (60 genes, 12 regulators); labels = deduction of the TRUE KB at
    k = 2 for single and double knockouts. Regulator 11 is never perturbed in training."""
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(N_GENES)]
    rows = []
    for r in range(N_REGULATORS):
        targets = rng.choice(
            np.delete(np.arange(N_GENES), r), size=rng.integers(4, 9), replace=False
        )
        rows += [(genes[r], genes[t], 1 if rng.random() < 0.7 else -1) for t in targets]
    edges = pd.DataFrame(rows, columns=["regulator", "target", "sign"])
    true_kb = compile_kb(edges, genes)

    seen = range(UNSEEN)
    doubles = list(itertools.combinations(seen, 2))
    order = rng.permutation(len(doubles))
    train_sets = [(r,) for r in seen] + [doubles[i] for i in order[:24]]
    test_sets = [doubles[i] for i in order[24:36]] + [(UNSEEN, int(rng.integers(UNSEEN)))]
    unlabelled_sets = [(r,) for r in range(N_REGULATORS)] + [doubles[i] for i in order[36:]]
    X_l, X_t, X_u = knockouts(train_sets), knockouts(test_sets), knockouts(unlabelled_sets)
    Y_l, Y_t = deduce(true_kb, X_l, 2), deduce(true_kb, X_t, 2)

    responding = np.flatnonzero(np.abs(Y_l).sum(0) > 0)
    targets = np.setdiff1d(responding, np.arange(N_REGULATORS))
    corrupted = np.sort(rng.choice(targets, size=len(targets) // 3, replace=False))
    flipped = edges.copy()
    into = flipped["target"].isin({genes[i] for i in corrupted})
    flipped.loc[into, "sign"] *= -1
    kb = compile_kb(flipped, genes)
    kb_l, kb_u, kb_t = (deduce(kb, X, 2) for X in (X_l, X_u, X_t))
    adjacency = (kb.r_pos + kb.r_neg).toarray() - np.eye(N_GENES)
    degree = adjacency.sum(0) + adjacency.sum(1)
    return Synthetic(
        X_l=X_l,
        Y_l=Y_l,
        kb_l=kb_l,
        X_u=X_u,
        kb_u=kb_u,
        X_t=X_t,
        Y_t=Y_t,
        kb_t=kb_t,
        w=weight_vector(X_l, Y_l, kb_l, degree, None),
        corrupted=corrupted,
        clean=np.setdiff1d(np.arange(N_GENES), corrupted),
        edge_index=kb_edge_index(kb.r_pos, kb.r_neg),
    )


def fit(
    data: Synthetic,
    kind: str,
    *,
    seed: int = 0,
    epochs: int = EPOCHS,
    adaptor: bool = True,
    **train_kw: object,
) -> TrainedModel:
    return train(
        data.X_l,
        data.Y_l,
        data.kb_l,
        data.X_u,
        data.kb_u,
        data.w,
        ModelConfig(kind, N_GENES, seed=seed),
        TrainConfig(epochs=epochs, seed=seed, device="cpu", **train_kw),
        edge_index=data.edge_index,
        adaptor=adaptor,
    )


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors gain nothing from threads, and spinning threads stall on a busy host."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> Synthetic:
    return synthetic()


@pytest.fixture(scope="module")
def trained(data: Synthetic) -> dict[str, TrainedModel]:
    return {kind: fit(data, kind) for kind in ("mlp", "gnn")}


def test_synthetic_case_is_a_known_answer(data: Synthetic) -> None:
    """The corrupted KB is exactly wrong on corrupted genes and exactly right elsewhere."""
    responding = data.Y_l != 0
    assert np.array_equal(data.kb_l[:, data.clean], data.Y_l[:, data.clean])
    assert np.all(data.kb_l[:, data.corrupted] == -data.Y_l[:, data.corrupted])
    assert responding[:, data.corrupted].any(axis=0).all()
    assert data.w[data.clean].mean() > data.w[data.corrupted].mean()


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_adaptor_routes_clean_genes_to_the_kb(
    data: Synthetic, trained: dict[str, TrainedModel], kind: str
) -> None:
    X = np.vstack([data.X_u, data.X_t])
    out = predict(trained[kind], X, np.vstack([data.kb_u, data.kb_t]))
    separation = out["a"][:, data.clean].mean() - out["a"][:, data.corrupted].mean()
    assert separation > 0.2
    # f_a starts at w (which routes about 60% of genes to the KB); L_len pulls usage to θ
    assert (data.w > 0.5).mean() > 0.5
    assert 0.2 <= kb_usage(out["a"]) <= 0.4
    assert out["p_a"].min() > 1e-3 and out["p_a"].max() < 1 - 1e-3
    assert np.array_equal(
        out["y_bar"], np.where(out["a"] == 1, np.vstack([data.kb_u, data.kb_t]), out["y_hat"])
    )


def test_without_the_length_penalty_all_clean_genes_may_use_the_kb(data: Synthetic) -> None:
    """Ablation use_len=False: a_g = 1 pays off wherever w_g > 0.5 (C_w term of Eq. 4)."""
    out = predict(fit(data, "mlp", use_len=False), data.X_u, data.kb_u)
    assert out["a"][:, data.w > 0.55].mean() > 0.9
    assert out["a"][:, data.corrupted].mean() < 0.1


def test_mini_batches_and_thread_setting(data: Synthetic) -> None:
    torch.set_num_threads(2)
    try:
        trained_model = fit(data, "gnn", epochs=5, batch_size=16, num_threads=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert all(np.isfinite(trained_model.history["loss"]))
    assert len(trained_model.history["kb_usage"]) == 5


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_both_models_beat_the_majority_class_on_held_out_conditions(
    data: Synthetic, trained: dict[str, TrainedModel], kind: str
) -> None:
    assert data.X_t[-1, UNSEEN] == -1
    assert not data.X_l[:, UNSEEN].any()
    out = predict(trained[kind], data.X_t, data.kb_t)
    majority = macro_f1(data.Y_t, np.zeros_like(data.Y_t))["f1"]
    assert macro_f1(data.Y_t, out["y_hat"])["f1"] > majority + 0.2
    assert macro_f1(data.Y_t, out["y_bar"])["f1"] > majority + 0.2


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_history_has_one_entry_per_epoch(trained: dict[str, TrainedModel], kind: str) -> None:
    history = trained[kind].history
    assert set(history) >= {"loss", "ce", "reinforce", "kb_usage", "epoch_s"}
    assert all(len(values) == EPOCHS for values in history.values())
    assert history["ce"][-1] < history["ce"][0]


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_same_seed_gives_identical_predictions_on_cpu(data: Synthetic, kind: str) -> None:
    runs = [fit(data, kind, seed=seed, epochs=20) for seed in (5, 5, 6)]
    outs = [predict(run, data.X_t, data.kb_t) for run in runs]
    for key in ("y_hat", "a", "y_bar", "p_a"):
        assert np.array_equal(outs[0][key], outs[1][key]), key
    scores = [consistency_scores(data.Y_t, out["y_bar"], data.kb_t) for out in outs]
    assert scores[0] == scores[1]
    assert runs[0].history["loss"] == runs[1].history["loss"]
    assert not np.array_equal(outs[0]["p_a"], outs[2]["p_a"])


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_state_round_trip_through_torch_load_weights_only(
    data: Synthetic, trained: dict[str, TrainedModel], kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "model.pt"
    torch.save(to_state(trained[kind]), path)
    restored = from_state(torch.load(path, weights_only=True))
    assert restored.model_config == trained[kind].model_config
    assert restored.train_config == trained[kind].train_config
    assert restored.history == trained[kind].history
    before = predict(trained[kind], data.X_t, data.kb_t)
    after = predict(restored, data.X_t, data.kb_t)
    for key in before:
        assert np.array_equal(before[key], after[key]), key


def test_neural_only_model_never_uses_the_kb(data: Synthetic) -> None:
    neural = train(
        data.X_l,
        data.Y_l,
        None,
        None,
        None,
        None,
        ModelConfig("mlp", N_GENES),
        TrainConfig(epochs=30, device="cpu"),
        adaptor=False,
    )
    out = predict(neural, data.X_t)
    assert not out["a"].any()
    assert np.array_equal(out["y_bar"], out["y_hat"])
    assert neural.history["reinforce"] == [0.0] * 30
    restored = from_state(to_state(neural))
    assert not restored.adaptor


def test_training_continues_from_an_init_model(data: Synthetic) -> None:
    first = fit(data, "mlp", epochs=10)
    snapshot = {k: v.clone() for k, v in first.model.state_dict().items()}
    second = train(
        data.X_l,
        data.Y_l,
        data.kb_l,
        data.X_u,
        data.kb_u,
        data.w,
        None,
        TrainConfig(epochs=10, device="cpu"),
        init=first,
    )
    assert all(torch.equal(v, first.model.state_dict()[k]) for k, v in snapshot.items())
    assert second.model_config == first.model_config
    assert len(second.history["loss"]) == 10
    changed = [not torch.equal(v, second.model.state_dict()[k]) for k, v in snapshot.items()]
    assert any(changed)


def test_progress_is_logged_every_log_every_epochs(
    data: Synthetic, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("test_training_progress")
    with caplog.at_level(logging.INFO, logger=logger.name):
        train(
            data.X_l,
            data.Y_l,
            data.kb_l,
            data.X_u,
            data.kb_u,
            data.w,
            ModelConfig("mlp", N_GENES),
            TrainConfig(epochs=12, log_every=5, device="cpu"),
            logger=logger,
        )
    lines = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert [line.split()[1] for line in lines] == ["5/12", "10/12", "12/12"]
    assert all("ce=" in line and "epoch_s=" in line for line in lines)


def test_class_weights_are_inverse_frequency_with_mean_one() -> None:
    Y = np.array([[0, 0, 0, 0, 0, 0, 1, -1, -1, 0]])
    weights = class_weights(Y)
    assert weights.mean() == pytest.approx(1.0)
    assert weights[0] == pytest.approx(weights[1] * 3.5)
    assert weights[2] == pytest.approx(2 * weights[0])
    assert class_weights(np.zeros((2, 3))).tolist() == [1.0, 1.0, 1.0]


def test_bad_training_input_is_named(data: Synthetic) -> None:
    config, tc = ModelConfig("mlp", N_GENES), TrainConfig(epochs=1, device="cpu")
    args = [data.X_l, data.Y_l, data.kb_l, data.X_u, data.kb_u, data.w]
    with pytest.raises(InputError, match=r"Y_l has shape \(34, 59\), expected \(35, 60\)"):
        train(*[data.X_l, data.Y_l[1:, 1:], *args[2:]], config, tc)
    with pytest.raises(InputError, match="X_l has 59 columns but model_config.n_genes is 60"):
        train(*[data.X_l[:, 1:], *args[1:]], config, tc)
    empty = data.X_u.copy()
    empty[3] = 0
    with pytest.raises(InputError, match="X_u row 3 perturbs no gene"):
        train(*args[:3], empty, *args[4:], config, tc)
    with pytest.raises(InputError, match="w must lie in"):
        train(*args[:5], data.w + 1, config, tc)
    with pytest.raises(InputError, match="X_u is given without kb_pred_u"):
        train(*args[:4], None, data.w, config, tc)
    with pytest.raises(InputError, match="needs edge_index"):
        train(*args, ModelConfig("gnn", N_GENES), tc)
    with pytest.raises(InputError, match="epochs must be a non-negative integer"):
        TrainConfig(epochs=-1)
    trained_model = fit(data, "mlp", epochs=1)
    with pytest.raises(InputError, match="needs kb_pred"):
        predict(trained_model, data.X_t)
    with pytest.raises(InputError, match=r"kb_pred has shape \(12, 60\), expected \(13, 60\)"):
        predict(trained_model, data.X_t, data.kb_t[1:])


def test_out_of_fold_predictions_come_from_models_that_never_saw_the_fold(
    data: Synthetic,
) -> None:
    rows = np.arange(len(data.X_l))
    folds = [rows[rows % 3 == r] for r in range(3)]
    config, train_config = ModelConfig("mlp", N_GENES), TrainConfig(epochs=20, device="cpu")
    y = out_of_fold_predictions(data.X_l, data.Y_l, folds, config, train_config)
    rest = np.flatnonzero(rows % 3 != 1)
    alone = train(
        data.X_l[rest], data.Y_l[rest], None, None, None, None, config, train_config, adaptor=False
    )
    np.testing.assert_array_equal(y[folds[1]], predict(alone, data.X_l[folds[1]])["y_hat"])
    everything = train(
        data.X_l, data.Y_l, None, None, None, None, config, train_config, adaptor=False
    )
    assert (y != predict(everything, data.X_l)["y_hat"]).any()
    with pytest.raises(InputError, match="row 0 is in 2 folds"):
        out_of_fold_predictions(data.X_l, data.Y_l, [rows, rows[:1]], config, train_config)


def test_balanced_routing_trusts_the_kb_where_it_is_right(data: Synthetic) -> None:
    """Known answer: the KB's signs into `corrupted` targets are flipped. Routing chosen on
    the training conditions with f_y out of fold takes the KB for the clean responding genes,
    far less often for the corrupted ones, and on unseen test conditions beats both f_y and
    the KB in data and in balanced consistency."""
    rows = np.arange(len(data.X_l))
    folds = [rows[rows % 4 == r] for r in range(4)]
    config, train_config = ModelConfig("mlp", N_GENES), TrainConfig(epochs=EPOCHS, device="cpu")
    y_oof = out_of_fold_predictions(data.X_l, data.Y_l, folds, config, train_config)
    w, _ = balanced_routing(data.Y_l, y_oof, data.kb_l)
    responding = np.flatnonzero(np.abs(data.Y_l).sum(0) > 0)
    clean = np.intersect1d(responding, data.clean)
    assert w[clean].mean() >= 0.9
    assert w[data.corrupted].mean() <= w[clean].mean() - 0.3
    neural = train(data.X_l, data.Y_l, None, None, None, None, config, train_config, adaptor=False)
    y_hat = predict(neural, data.X_t)["y_hat"]
    routed = consistency_scores(
        data.Y_t, combine(np.broadcast_to(w, y_hat.shape), y_hat, data.kb_t), data.kb_t
    )
    for source in (y_hat, data.kb_t):
        alone = consistency_scores(data.Y_t, source, data.kb_t)
        assert routed["data_f1"] > alone["data_f1"]
        assert routed["balanced_f1"] > alone["balanced_f1"]
