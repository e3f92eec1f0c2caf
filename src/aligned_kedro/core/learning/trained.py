"""A trained f_y with its adaptor head: the settings that trained it (`TrainConfig`), the
model with its configs and history (`TrainedModel`), and its state as primitives and
tensors (`to_state`, `from_state`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from aligned_kedro.core._checks import (
    check_non_negative_int,
    check_positive_int,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.models import (
    DictConfig,
    GNNModel,
    MLPModel,
    ModelConfig,
    build_model,
    check_edge_index,
    check_edge_weight,
    graph_summary,
    resolve_device,
)


@dataclass
class TrainConfig(DictConfig):
    """Optimisation settings and the coefficients of Eq. 4 (c_l, c_w, theta_share, the
    ablation switches use_inc, use_len) and Eq. 5 (c); primitives only.

    `batch_size=None` trains full-batch (one Adam step per epoch); ``"auto"`` too, unless
    a step's logits would pass `batches.MAX_BATCH_LOGITS` values, when the distinct inputs
    are split into as few mini-batches as fit. A batch counts distinct inputs: per-cell
    rows of one input are one row with their label counts. `shared_grad_scale`
    scales the REINFORCE gradient that reaches the layers f_a shares with f_y: 0 (default)
    lets f_a read the representation f_y learns from data without reshaping it; 1 is the
    literal Eq. 5 (on the synthetic GRN it cost the GNN about 0.2 macro F1, the noisy
    REINFORCE signal swamping CE in the shared embeddings). `num_threads` sets torch's
    intra-op threads during training and restores them afterwards (None leaves them): at
    E. coli size (m ≈ 200, n ≈ 4,000) a second thread saved about 25% per epoch on an idle
    2-core host but cost up to 30x when another process held a core, hence 1.

    Parameters
    ----------
    epochs : int
        >= 0.
    lr, weight_decay : float
        Adam's.
    c : float
        C of Eq. 5, the weight of the REINFORCE term.
    c_l, c_w, theta_share : float
        C_l, C_w and θ / n of Eq. 4.
    class_weighting : bool
        Inverse class frequency in the cross-entropy.
    seed : int
    device : {"auto", "cpu", "cuda"}
    use_inc, use_len : bool
        Keep Inc and L_len in L_a (the ablations switch them off).
    log_every : int
    batch_size : int, "auto" or None
        >= 2 distinct inputs; None for full batch; "auto" as above.
    shared_grad_scale : float
        >= 0.
    num_threads : int, optional
    """

    label = "train config"

    epochs: int = 150
    lr: float = 2e-2
    weight_decay: float = 0.0
    c: float = 10.0
    c_l: float = 5.0
    c_w: float = 10.0
    theta_share: float = 0.3
    class_weighting: bool = True
    seed: int = 0
    device: str = "auto"
    use_inc: bool = True
    use_len: bool = True
    log_every: int = 25
    batch_size: int | str | None = None
    shared_grad_scale: float = 0.0
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        source = "train config"
        check_non_negative_int(self.epochs, "epochs", source=source)
        if not self.lr > 0:
            raise InputError(f"lr must be positive, got {self.lr}", source=source)
        for name in ("weight_decay", "c", "c_l", "c_w", "theta_share", "shared_grad_scale"):
            if getattr(self, name) < 0:
                raise InputError(
                    f"{name} must be non-negative, got {getattr(self, name)}", source=source
                )
        check_positive_int(self.log_every, "log_every", source=source)
        check_positive_int(self.num_threads, "num_threads", source=source, allow_none=True)
        size = self.batch_size
        if size not in (None, "auto") and (not isinstance(size, int) or size < 2):
            raise InputError(
                f"batch_size must be >= 2 (the REINFORCE baseline is a batch mean), "
                f"'auto' or None, got {size!r}",
                source=source,
            )


@dataclass
class TrainedModel:
    """f_y with its adaptor head, the configs that built and trained it and the per-epoch
    history (lists: loss, ce, reinforce, l_a, kb_usage, epoch_s). `adaptor` is False for
    the neural-only baseline (f_a untrained, never used).

    Attributes
    ----------
    model : MLPModel or GNNModel
    model_config : ModelConfig
    train_config : TrainConfig
    adaptor : bool
    history : dict of str to list of float
        One value per epoch of each key.
    edge_index : torch.Tensor, shape (2, E), optional
        The GNN's graph.
    edge_weight : torch.Tensor, shape (E,), optional
    """

    model: MLPModel | GNNModel
    model_config: ModelConfig
    train_config: TrainConfig
    adaptor: bool = True
    history: dict[str, list[float]] = field(default_factory=dict)
    edge_index: torch.Tensor | None = None
    edge_weight: torch.Tensor | None = None


def to_state(trained: TrainedModel) -> dict[str, Any]:
    """Primitives, lists and tensors only (readable by torch.load(weights_only=True)):
    model_config, train_config, adaptor, history, state_dict, the GNN's graph (edge_index,
    edge_weight) and its size (`graph`: genes, edges, genes_with_edges, weighted).

    Parameters
    ----------
    trained : TrainedModel

    Returns
    -------
    dict
        ``model_config, train_config, adaptor, history, state_dict, edge_index,
        edge_weight, graph``.
    """
    n = trained.model_config.n_genes
    return {
        "model_config": trained.model_config.to_dict(),
        "train_config": trained.train_config.to_dict(),
        "adaptor": bool(trained.adaptor),
        "history": {key: [float(v) for v in values] for key, values in trained.history.items()},
        "state_dict": {k: v.detach().cpu().clone() for k, v in trained.model.state_dict().items()},
        "edge_index": None if trained.edge_index is None else trained.edge_index.cpu().clone(),
        "edge_weight": None if trained.edge_weight is None else trained.edge_weight.cpu().clone(),
        "graph": {
            "kind": trained.model_config.graph,
            **graph_summary(trained.edge_index, n, trained.edge_weight),
        },
    }


def from_state(
    state: dict[str, Any], edge_index: Any = None, device: str = "cpu", edge_weight: Any = None
) -> TrainedModel:
    """Rebuild a TrainedModel from `to_state` output with its saved graph; `edge_index`
    (with `edge_weight`, else unweighted) replaces the saved graph.

    Parameters
    ----------
    state : dict
        `to_state` output.
    edge_index : array-like, shape (2, E), optional
    device : {"cpu", "cuda", "auto"}
    edge_weight : array-like, shape (E,), optional

    Returns
    -------
    TrainedModel
        In eval mode, on `device`.
    """
    for key in ("model_config", "train_config", "state_dict"):
        if key not in state:
            raise InputError(f"saved model state lacks {key!r}", source="model state")
    model_config = ModelConfig.from_dict(dict(state["model_config"]))
    train_config = TrainConfig.from_dict(dict(state["train_config"]))
    if edge_index is None:
        edge_index, edge_weight = state.get("edge_index"), state.get("edge_weight")
    if edge_index is not None:
        edge_index = check_edge_index(edge_index, model_config.n_genes)
        edge_weight = check_edge_weight(edge_weight, edge_index.shape[1])
    model = build_model(model_config, edge_index, edge_weight)
    model.load_state_dict(state["state_dict"])
    model.to(resolve_device(device))
    model.eval()
    return TrainedModel(
        model=model,
        model_config=model_config,
        train_config=train_config,
        adaptor=bool(state.get("adaptor", True)),
        history={key: list(values) for key, values in state.get("history", {}).items()},
        edge_index=edge_index,
        edge_weight=edge_weight,
    )
