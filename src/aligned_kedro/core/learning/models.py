"""Neural component f_y (MLP or GNN) with the adaptor head f_a (section 3.3).

Both models map a batch of perturbations x (m x n, values in {-1, 0, 1}) to per-gene
3-class logits for f_y (m x n x 3, classes -1, 0, 1 at indices 0, 1, 2) and per-gene
logits for f_a (m x n, the log-odds that gene g takes the KB answer). f_a shares the input
and the embedding with f_y; its per-gene bias starts at logit(w) and its weights at zero,
so the initial sampling distribution of a is exactly w.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn
from torch_geometric.nn import SGConv

from aligned_kedro.core._checks import check_positive_int
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.adaptor import adaptor_bias
from aligned_kedro.core.learning.routing import ROUTE_SCOPES, ROUTINGS, RouteHead

N_CLASSES = 3
GRAPHS = ("one_step", "closure", "gene_graph")


class DictConfig:
    """A dataclass config that round-trips through a dict of primitives."""

    label = "config"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Any:
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"unknown {cls.label} keys {unknown}", source=cls.label)
        return cls(**values)


@dataclass
class ModelConfig(DictConfig):
    """Architecture of f_y and f_a; primitives only, so it round-trips through a dict.

    `graph` names the graph the caller builds edge_index from (informational): the KB's
    ``one_step`` R±(0) or ``closure`` R±(k), or an unsigned ``gene_graph`` such as GEARS'
    GO graph; `adaptor_span` bounds the sample-specific part of f_a's logits (see `adapt`).
    `routing` is ``static`` (f_a routes a gene the same way for every input) or
    ``adaptive`` (a `RouteHead` of width `route_hidden` reads per-(input, gene) features;
    `route_scope` ``kb_answers`` lets it re-route only outputs where δ_KB answers).

    Parameters
    ----------
    model_type : {"mlp", "gnn"}
    n_genes : int
        n, the width of x and of every output.
    hidden, layers, embedding_dim : int
        Width and depth of the trunk; the GNN's gene-embedding size d.
    dropout : float
        In [0, 1).
    graph : {"one_step", "closure", "gene_graph"}
    seed : int
        Seeds the initial weights.
    adaptor_span : float
        > 0.
    routing : {"static", "adaptive"}
    route_hidden : int
        Width of the `RouteHead` (``adaptive``).
    route_scope : {"all", "kb_answers"}
        The outputs the `RouteHead` may re-route (``adaptive``).
    """

    label = "model config"

    model_type: str = "mlp"
    n_genes: int = 0
    hidden: int = 64
    layers: int = 3
    embedding_dim: int = 64
    dropout: float = 0.0
    graph: str = "one_step"
    seed: int = 0
    adaptor_span: float = 2.0
    routing: str = "static"
    route_hidden: int = 16
    route_scope: str = "all"

    def __post_init__(self) -> None:
        source = "model config"
        if self.model_type not in ("mlp", "gnn"):
            raise InputError(
                f"model_type must be 'mlp' or 'gnn', got {self.model_type!r}", source=source
            )
        for name in ("n_genes", "hidden", "layers", "embedding_dim", "route_hidden"):
            check_positive_int(getattr(self, name), name, source=source)
        if self.graph not in GRAPHS:
            raise InputError(
                f"graph must be one of {list(GRAPHS)}, got {self.graph!r}", source=source
            )
        if self.routing not in ROUTINGS:
            raise InputError(
                f"routing must be one of {list(ROUTINGS)}, got {self.routing!r}", source=source
            )
        if self.route_scope not in ROUTE_SCOPES:
            raise InputError(
                f"route_scope must be one of {list(ROUTE_SCOPES)}, got {self.route_scope!r}",
                source=source,
            )
        if not self.adaptor_span > 0:
            raise InputError(
                f"adaptor_span must be positive, got {self.adaptor_span}", source=source
            )
        if not 0.0 <= self.dropout < 1.0:
            raise InputError(f"dropout must lie in [0, 1), got {self.dropout}", source=source)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cpu' / 'cuda' as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but CUDA is not available", source="device")
    if device not in ("cpu", "cuda"):
        raise InputError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}", source="device")
    return torch.device(device)


def check_edge_index(edge_index: Any, n_genes: int) -> torch.Tensor:
    """A 2 x E integer tensor of gene indices in [0, n)."""
    tensor = torch.as_tensor(
        np.asarray(edge_index) if not isinstance(edge_index, torch.Tensor) else edge_index
    )
    if tensor.ndim != 2 or tensor.shape[0] != 2:
        raise InputError(
            f"edge_index must have shape (2, E), got {tuple(tensor.shape)}", source="edge_index"
        )
    if tensor.is_floating_point() or tensor.dtype == torch.bool:
        raise InputError("edge_index must hold integer gene indices", source="edge_index")
    tensor = tensor.long().cpu()
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= n_genes):
        raise InputError(
            f"edge_index holds gene indices outside [0, {n_genes})", source="edge_index"
        )
    return tensor.contiguous()


def check_edge_weight(edge_weight: Any, n_edges: int) -> torch.Tensor | None:
    """None, or a float tensor of E finite weights >= 0, one per edge of edge_index."""
    if edge_weight is None:
        return None
    tensor = torch.as_tensor(np.asarray(edge_weight, dtype=np.float32)).cpu()
    if tensor.shape != (n_edges,):
        raise InputError(
            f"edge_weight must have shape ({n_edges},), got {tuple(tensor.shape)}",
            source="edge_weight",
        )
    if not bool(torch.isfinite(tensor).all()) or bool((tensor < 0).any()):
        raise InputError("edge_weight must be finite and >= 0", source="edge_weight")
    return tensor.contiguous()


def graph_tensors(
    table: pd.DataFrame, genes: Sequence[str], *, source: str = "gnn graph"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """edge_index (2 x E, gene indices in ``genes``) and edge_weight (E; None when every
    weight is 1) of a ``source, target, weight`` table of gene IDs; messages flow
    source -> target."""
    for column in ("source", "target", "weight"):
        if column not in table.columns:
            raise InputError("missing column", source=source, column=column)
    index = pd.Index(genes)
    rows = [index.get_indexer(table[column]) for column in ("source", "target")]
    for column, positions in zip(("source", "target"), rows, strict=True):
        if (positions < 0).any():
            row = int(np.flatnonzero(positions < 0)[0])
            raise InputError(
                "gene outside the model's genes",
                source=source,
                column=column,
                row=row,
                gene=str(table[column].iloc[row]),
            )
    edge_index = torch.as_tensor(np.vstack(rows).reshape(2, -1), dtype=torch.long)
    weight = check_edge_weight(table["weight"].to_numpy(), edge_index.shape[1])
    return edge_index, None if bool((weight == 1).all()) else weight


def graph_table(edge_index: Any, genes: Sequence[str], edge_weight: Any = None) -> pd.DataFrame:
    """``source, target, weight`` (gene IDs) of edge_index; weight 1 without edge_weight."""
    index = check_edge_index(edge_index, len(genes)).numpy()
    ids = np.asarray(genes, dtype=object)
    weight = check_edge_weight(edge_weight, index.shape[1])
    return pd.DataFrame(
        {
            "source": ids[index[0]],
            "target": ids[index[1]],
            "weight": np.ones(index.shape[1]) if weight is None else weight.double().numpy(),
        }
    )


def graph_summary(edge_index: Any, n_genes: int, edge_weight: Any = None) -> dict[str, Any]:
    """Size of the GNN's graph: genes (nodes), edges, genes with an edge, weighted."""
    if edge_index is None:
        return {"genes": int(n_genes), "edges": 0, "genes_with_edges": 0, "weighted": False}
    index = check_edge_index(edge_index, n_genes)
    return {
        "genes": int(n_genes),
        "edges": int(index.shape[1]),
        "genes_with_edges": int(torch.unique(index).numel()),
        "weighted": edge_weight is not None,
    }


def kb_edge_index(r_pos: sp.spmatrix, r_neg: sp.spmatrix) -> torch.Tensor:
    """One-step KB graph for the GNN: edges of R+(0) and R-(0) in both directions, without
    the self-activation diagonal and without duplicates, as a 2 x E tensor."""
    adjacency = (abs(sp.csr_matrix(r_pos)) + abs(sp.csr_matrix(r_neg))).tocoo()
    keep = adjacency.row != adjacency.col
    rows, cols = adjacency.row[keep], adjacency.col[keep]
    n = adjacency.shape[0]
    both = sp.coo_matrix(
        (np.ones(2 * len(rows)), (np.concatenate([rows, cols]), np.concatenate([cols, rows]))),
        shape=(n, n),
    ).tocsr()
    both.sum_duplicates()
    coo = both.tocoo()
    return torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)


class _ScaleGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.scale, None


def scale_gradient(tensor: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity forward; the backward gradient is multiplied by `scale` (0 detaches)."""
    if scale == 0.0:
        return tensor.detach()
    return _ScaleGradient.apply(tensor, scale)


class Encoding(NamedTuple):
    """Representation shared by f_y and f_a: one row per sample, plus the gene embeddings
    H of the GNN (None for the MLP)."""

    sample: torch.Tensor
    genes: torch.Tensor | None = None

    def rows(self, index: torch.Tensor) -> Encoding:
        return Encoding(self.sample[index], self.genes)


class _Base(nn.Module):
    config: ModelConfig

    def encode(self, x: torch.Tensor) -> Encoding:
        raise NotImplementedError

    def encoder(self) -> Callable[[torch.Tensor], Encoding]:
        """`encode` with what does not depend on x computed once, for many batches of
        one inference call (the parameters must not change in between)."""
        return self.encode

    def classify(self, encoding: Encoding) -> torch.Tensor:
        """f_y logits, m x n x 3 (a view of a contiguous m x 3 x n tensor)."""
        raise NotImplementedError

    @property
    def adaptive(self) -> bool:
        """Whether f_a reads per-(input, gene) features (``routing: adaptive``)."""
        return self.config.routing == "adaptive"

    def adapt(
        self,
        encoding: Encoding,
        shared_grad_scale: float = 1.0,
        features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """f_a logits, m x n: b_g + span * tanh(ũ_g / span), plus r(φ(x, g)) when adaptive.

        b_g is the per-gene bias (initialised to logit(w)); ũ is the sample-specific
        modulation read from the shared representation, centred over genes. So every
        global shift goes through the biases (one Adam step moves them by about lr), and
        ũ can only re-rank genes within a sample and by at most ±span: REINFORCE cannot
        saturate f_a for all genes at once, as the reference's collapsed columns did, and
        sampling keeps exploring. The gradient into the shared representation is
        multiplied by `shared_grad_scale` (0 detaches it). An adaptive f_a adds the
        unbounded r(φ) of its `RouteHead` on the features φ (m x n x F,
        `routing.route_features`), which can flip a gene's route for one input.
        """
        if shared_grad_scale != 1.0:
            encoding = Encoding(
                *(None if t is None else scale_gradient(t, shared_grad_scale) for t in encoding)
            )
        u = self.modulation(encoding)
        span = self.config.adaptor_span
        logits = self.adaptor_bias + span * torch.tanh((u - u.mean(-1, keepdim=True)) / span)
        if not self.adaptive:
            return logits
        if features is None:
            raise InputError(
                "an adaptive adaptor needs the route features of its inputs", source="adaptor"
            )
        return logits + self.route_head(features)

    def modulation(self, encoding: Encoding) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_y logits m x n x 3, f_a logits m x n) for perturbations x (m x n); a static
        f_a only (an adaptive one needs `adapt` with its features)."""
        encoding = self.encode(x)
        return self.classify(encoding), self.adapt(encoding)

    def _route_head(self) -> None:
        """The adaptive f_a's `RouteHead`, built last so that f_y's and the static f_a's
        initial weights are those of a static model of the same seed."""
        if self.adaptive:
            self.route_head = RouteHead(self.config.route_hidden, self.config.route_scope)

    @torch.no_grad()
    def init_adaptor(self, w: Any, route: dict[str, torch.Tensor] | None = None) -> None:
        """Set f_a's per-gene bias to logit(w) and its weights to zero (section 3.3); an
        adaptive f_a's `RouteHead` takes the state `route` (the fitted per-input prior,
        `routing.fit_router`), else a zero last layer: its sampling distribution starts at
        w(x), or at w."""
        vector = np.asarray(w, dtype=np.float64)
        if vector.shape != (self.config.n_genes,) or not np.isfinite(vector).all():
            raise InputError(
                f"w must be a finite vector of length {self.config.n_genes}, got shape "
                f"{vector.shape}",
                source="weight vector",
            )
        bias = torch.as_tensor(adaptor_bias(vector), dtype=torch.float32)
        self.adaptor_bias.copy_(bias.to(self.adaptor_bias.device))
        self.adaptor_out.weight.zero_()
        if route is not None and not self.adaptive:
            raise InputError("a static adaptor takes no route state", source="adaptor")
        if self.adaptive:
            if route is not None:
                expected = {k: tuple(v.shape) for k, v in self.route_head.state_dict().items()}
                if {k: tuple(v.shape) for k, v in route.items()} != expected:
                    raise InputError(
                        f"the route state does not fit a route head of width "
                        f"{self.config.route_hidden}",
                        source="adaptor",
                    )
                self.route_head.load_state_dict(route)
            else:
                self.route_head.net[-1].weight.zero_()
                self.route_head.net[-1].bias.zero_()


class MLPModel(_Base):
    """f_y: x -> `layers` x (Linear, ReLU) of width `hidden` -> m x n x 3 logits; f_a reads
    the same hidden representation -> m x n logits."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        n, h = config.n_genes, config.hidden
        blocks: list[nn.Module] = []
        for i in range(config.layers):
            blocks += [nn.Linear(n if i == 0 else h, h), nn.ReLU(), nn.Dropout(config.dropout)]
        self.trunk = nn.Sequential(*blocks)
        self.out = nn.Linear(h, N_CLASSES * n)
        self.adaptor_out = nn.Linear(h, n, bias=False)
        self.adaptor_bias = nn.Parameter(torch.zeros(n))
        self._route_head()
        self.init_adaptor(np.full(n, 0.5))

    def encode(self, x: torch.Tensor) -> Encoding:
        return Encoding(self.trunk(x))

    def classify(self, encoding: Encoding) -> torch.Tensor:
        m = encoding.sample.shape[0]
        return self.out(encoding.sample).view(m, N_CLASSES, self.config.n_genes).transpose(1, 2)

    def modulation(self, encoding: Encoding) -> torch.Tensor:
        return self.adaptor_out(encoding.sample)


class GNNModel(_Base):
    """f_y: learned gene embeddings E refined by `layers` residual SGConv layers over the
    graph (the KB's, or an unsigned gene graph with edge weights) give H; the sample
    embedding is s = x @ H (signed sum over perturbed genes, so unseen combinations
    embed), z = MLP(s) and logits_g = Linear_3(z ⊙ H_g) + b_g.
    f_a: z_a = MLP_a(s) and logit_g = Linear_1(z_a ⊙ H_g) + b_g."""

    def __init__(
        self, config: ModelConfig, edge_index: torch.Tensor, edge_weight: Any = None
    ) -> None:
        super().__init__()
        self.config = config
        n, d, h = config.n_genes, config.embedding_dim, config.hidden
        self.embedding = nn.Parameter(torch.randn(n, d) / math.sqrt(d))
        self.convs = nn.ModuleList(SGConv(d, d, K=1) for _ in range(config.layers))
        self.register_buffer("edge_index", check_edge_index(edge_index, n), persistent=False)
        self.register_buffer(
            "edge_weight",
            check_edge_weight(edge_weight, self.edge_index.shape[1]),
            persistent=False,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Sequential(
            nn.Linear(d, h), nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(h, d)
        )
        self.out = nn.Linear(d, N_CLASSES)
        self.gene_bias = nn.Parameter(torch.zeros(N_CLASSES, n))
        self.adaptor_head = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, d))
        self.adaptor_out = nn.Linear(d, 1, bias=False)
        self.adaptor_bias = nn.Parameter(torch.zeros(n))
        self._route_head()
        self.init_adaptor(np.full(n, 0.5))

    def gene_embeddings(self) -> torch.Tensor:
        """Node embeddings H (n x d): E refined by residual SGConv steps H <- H + conv(H).

        The residual keeps each gene distinguishable when deep propagation over-smooths.
        """
        H = self.embedding
        for i, conv in enumerate(self.convs):
            update = conv(H, self.edge_index, self.edge_weight)
            if i < len(self.convs) - 1:
                update = self.dropout(torch.relu(update))
            H = H + update
        return H

    def encode(self, x: torch.Tensor) -> Encoding:
        return self.encoder()(x)

    def encoder(self) -> Callable[[torch.Tensor], Encoding]:
        H = self.gene_embeddings()
        return lambda x: Encoding(x @ H, H)

    def classify(self, encoding: Encoding) -> torch.Tensor:
        z = self.head(encoding.sample)
        scaled = z[:, None, :] * self.out.weight[None, :, :]
        logits = scaled @ encoding.genes.T + self.out.bias[:, None] + self.gene_bias
        return logits.transpose(1, 2)

    def modulation(self, encoding: Encoding) -> torch.Tensor:
        z_a = self.adaptor_head(encoding.sample) * self.adaptor_out.weight[0]
        return z_a @ encoding.genes.T


def build_model(
    config: ModelConfig, edge_index: Any = None, edge_weight: Any = None
) -> MLPModel | GNNModel:
    """f_y with its adaptor head, initialised from `config.seed` (torch's global RNG is
    left as it was). The GNN needs its graph `edge_index` (the KB's, `kb_edge_index`, or
    a gene graph's, `graph_tensors`) and takes optional `edge_weight`s.

    Parameters
    ----------
    config : ModelConfig
    edge_index : array-like or torch.Tensor, shape (2, E), optional
        Gene indices in [0, n), messages flowing row 0 -> row 1; required for the GNN.
    edge_weight : array-like, shape (E,), optional
        Finite weights >= 0.

    Returns
    -------
    MLPModel or GNNModel
        f_y with its adaptor head; calling it on x (m x n) gives f_y's logits (m x n x 3)
        and f_a's (m x n).
    """
    if config.model_type == "gnn" and edge_index is None:
        raise InputError(
            "model_type 'gnn' needs edge_index, its graph (kb_edge_index or graph_tensors)",
            source="model config",
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.model_type == "mlp":
            return MLPModel(config)
        return GNNModel(config, edge_index, edge_weight)
