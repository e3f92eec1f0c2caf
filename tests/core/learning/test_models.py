"""f_y (MLP, GNN) with the adaptor head f_a (section 3.3), input checks and the linear
baseline (Ahlmann-Eltze et al. 2025)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import macro_f1
from aligned_kedro.core.learning import TrainConfig, TrainedModel, inference
from aligned_kedro.core.learning.baselines import LinearBaseline, ternary
from aligned_kedro.core.learning.models import (
    GNNModel,
    MLPModel,
    ModelConfig,
    build_model,
    kb_edge_index,
    resolve_device,
)

N = 8
EDGES = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])


def model(kind: str) -> MLPModel | GNNModel:
    config = ModelConfig(kind, N, hidden=16, layers=2, embedding_dim=8, seed=3)
    return build_model(config, EDGES if kind == "gnn" else None)


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_output_shapes_and_initial_adaptor_distribution_is_w(kind: str) -> None:
    f = model(kind)
    w = np.linspace(0.0, 1.0, N)
    f.init_adaptor(w)
    x = torch.zeros(5, N)
    x[torch.arange(5), torch.arange(5)] = -1.0
    x[4, 6] = 1.0
    logits, logits_a = f(x)
    assert logits.shape == (5, N, 3)
    assert logits_a.shape == (5, N)
    expected = np.clip(w, 0.02, 0.98)
    np.testing.assert_allclose(
        torch.sigmoid(logits_a).detach().numpy(), np.tile(expected, (5, 1)), rtol=1e-5
    )


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_adaptor_modulation_is_bounded_and_cannot_shift_all_genes(kind: str) -> None:
    """However large f_a's weights grow, logits stay within ±span of the per-gene bias."""
    f = model(kind)
    with torch.no_grad():
        for name, parameter in f.named_parameters():
            if name.startswith("adaptor_") and name != "adaptor_bias":
                parameter.normal_(0.0, 100.0)
    x = torch.zeros(4, N)
    x[torch.arange(4), torch.arange(4)] = -1.0
    _, logits_a = f(x)
    shift = (logits_a - f.adaptor_bias).detach()
    assert shift.abs().max() <= f.config.adaptor_span + 1e-5
    assert shift.abs().max() > 1.0
    assert (shift > 0).any(dim=1).all() and (shift < 0).any(dim=1).all()


def test_shared_gradient_scale() -> None:
    f = model("gnn")
    with torch.no_grad():
        f.adaptor_out.weight.fill_(1.0)
    x = torch.zeros(2, N)
    x[:, 0] = -1.0
    grads = []
    for scale in (1.0, 0.5, 0.0):
        f.zero_grad()
        f.adapt(f.encode(x), scale).square().sum().backward()
        grads.append(None if f.embedding.grad is None else f.embedding.grad.clone())
    assert torch.allclose(grads[1], 0.5 * grads[0])
    assert grads[2] is None or not grads[2].any()
    assert f.adaptor_bias.grad is not None


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_same_seed_builds_the_same_model(kind: str) -> None:
    first, second = model(kind), model(kind)
    for (name, p), (_, q) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(p, q), name


def test_gnn_sample_embedding_is_the_signed_sum_of_gene_embeddings() -> None:
    """An unseen double perturbation embeds as the sum of its single perturbations."""
    f = model("gnn")
    H = f.gene_embeddings().detach()
    double = torch.zeros(1, N)
    double[0, [2, 6]] = -1.0
    assert torch.allclose(double @ H, -(H[2] + H[6])[None])
    logits, _ = f(double)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("kind", ["mlp", "gnn"])
def test_chunked_predictions_equal_one_unchunked_forward(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """predict computes the GNN's gene embeddings once per call and runs f_y and f_a in
    chunks: the same answers as one forward pass over every row."""
    f = model(kind)
    with torch.no_grad():
        for parameter in f.parameters():
            parameter.normal_(0.0, 1.0)
    trained = TrainedModel(f, f.config, TrainConfig(), True, {}, EDGES)
    rng = np.random.default_rng(0)
    X = np.zeros((11, N), dtype=np.int8)
    for i, row in enumerate(X):
        row[[i % N, (i + 1 + i // N) % N]] = rng.choice([-1, 1], 2)
    assert len(np.unique(X, axis=0)) == len(X)
    kb = rng.integers(-1, 2, X.shape).astype(np.int8)
    monkeypatch.setattr(inference, "PREDICT_CHUNK", 4)
    calls: list[int] = []
    if kind == "gnn":
        embeddings = f.gene_embeddings
        monkeypatch.setattr(f, "gene_embeddings", lambda: calls.append(1) or embeddings())
    chunked = inference.predict(trained, X, kb, probabilities=True)
    assert len(calls) == (kind == "gnn")
    f.eval()
    with torch.no_grad():
        logits, logits_a = f(torch.as_tensor(X, dtype=torch.float32))
    p_y = torch.softmax(logits, -1).numpy()
    p_a = torch.sigmoid(logits_a).numpy()
    np.testing.assert_array_equal(chunked["y_hat"], p_y.argmax(-1) - 1)
    np.testing.assert_array_equal(chunked["a"], p_a > 0.5)
    np.testing.assert_array_equal(chunked["y_bar"], np.where(p_a > 0.5, kb, p_y.argmax(-1) - 1))
    np.testing.assert_allclose(chunked["p_y"], p_y, rtol=0, atol=1e-6)
    np.testing.assert_allclose(chunked["p_a"], p_a, rtol=0, atol=1e-6)
    assert len(np.unique(chunked["y_hat"])) == 3 and 0 < chunked["a"].mean() < 1


def test_gnn_without_edge_index_is_refused() -> None:
    with pytest.raises(InputError, match="needs edge_index"):
        build_model(ModelConfig("gnn", N))
    with pytest.raises(InputError, match=r"shape \(2, E\)"):
        build_model(ModelConfig("gnn", N), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(InputError, match=r"outside \[0, 8\)"):
        build_model(ModelConfig("gnn", N), torch.tensor([[0], [8]]))


def test_model_config_checks() -> None:
    with pytest.raises(InputError, match="model_type must be 'mlp' or 'gnn'"):
        ModelConfig("transformer", N)
    with pytest.raises(InputError, match="n_genes must be a positive integer"):
        ModelConfig("mlp", 0)
    with pytest.raises(InputError, match="unknown model config keys"):
        ModelConfig.from_dict({"model_type": "mlp", "n_genes": 3, "width": 4})
    config = ModelConfig("gnn", 5, dropout=0.1)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="device must be"):
        resolve_device("tpu")


def test_kb_edge_index_is_symmetric_without_the_diagonal() -> None:
    r_pos = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]]))
    r_neg = sp.csr_matrix(np.array([[0, 0, 0], [0, 0, 1], [1, 0, 0]]))
    edges = {tuple(e) for e in kb_edge_index(r_pos, r_neg).T.tolist()}
    assert edges == {(0, 1), (1, 0), (1, 2), (2, 1), (0, 2), (2, 0)}


def additive_data(
    n: int = 40, n_pert: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Knockout of gene g lowers itself and shifts a few genes; doubles add the effects."""
    rng = np.random.default_rng(seed)
    effects = np.zeros((n_pert, n))
    for g in range(n_pert):
        targets = rng.choice(np.arange(n_pert, n), size=6, replace=False)
        effects[g, targets] = rng.choice([-1.0, 1.0], size=6)
        effects[g, g] = -1.0

    def data(sets: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
        X = np.zeros((len(sets), n))
        for i, s in enumerate(sets):
            X[i, list(s)] = -1
        Y = np.sign(np.stack([effects[list(s)].sum(0) for s in sets])).astype(np.int64)
        return X, Y

    doubles = list(itertools.combinations(range(n_pert), 2))
    order = rng.permutation(len(doubles))
    train = [(g,) for g in range(n_pert)] + [doubles[i] for i in order[:10]]
    test = [doubles[i] for i in order[10:25]]
    return (*data(train), *data(test))


def test_linear_baseline_beats_all_zeros_on_additive_data() -> None:
    X_l, Y_l, X_t, Y_t = additive_data()
    baseline = LinearBaseline(n_components=10, ridge=0.1).fit(X_l, Y_l)
    prediction = baseline.predict(X_t)
    assert prediction.shape == Y_t.shape
    assert set(np.unique(prediction)) <= {-1, 0, 1}
    f1 = macro_f1(Y_t, prediction)["f1"]
    zeros = macro_f1(Y_t, np.zeros_like(Y_t))["f1"]
    assert f1 > zeros + 0.2
    assert baseline.tau >= 0


def test_linear_baseline_checks_input() -> None:
    X_l, Y_l, _, _ = additive_data()
    with pytest.raises(InputError, match="not fitted"):
        LinearBaseline().predict(X_l)
    with pytest.raises(InputError, match=r"Y_l has shape \(19, 40\), expected \(20, 40\)"):
        LinearBaseline().fit(X_l, Y_l[:-1])
    fitted = LinearBaseline(n_components=50).fit(X_l, Y_l)
    assert fitted.gene_embedding.shape[1] <= len(X_l)
    with pytest.raises(InputError, match="X has 39 columns"):
        fitted.predict(X_l[:, :-1])


def test_ternary_cut_off_is_symmetric() -> None:
    assert ternary(np.array([-0.6, -0.4, 0.0, 0.4, 0.6]), 0.5).tolist() == [-1, 0, 0, 0, 1]
