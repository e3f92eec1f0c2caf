"""The neural predictor f_y, the adaptor f_a and their training (section 3.3, Eq. 4-5),
and the baselines."""

from aligned_kedro.core.learning.adaptor import (
    balanced_routing,
    combine,
    oracle_routing,
    route_switch_share,
    weight_vector,
)
from aligned_kedro.core.learning.baselines import LinearBaseline
from aligned_kedro.core.learning.inference import predict
from aligned_kedro.core.learning.models import ModelConfig, build_model
from aligned_kedro.core.learning.routing import (
    PathEvidence,
    RouteInputs,
    fit_router,
    path_evidence,
)
from aligned_kedro.core.learning.trained import TrainConfig, TrainedModel, from_state, to_state
from aligned_kedro.core.learning.training import (
    out_of_fold_predictions,
    train,
    train_neural_only,
)

__all__ = [
    "LinearBaseline",
    "ModelConfig",
    "PathEvidence",
    "RouteInputs",
    "TrainConfig",
    "TrainedModel",
    "balanced_routing",
    "build_model",
    "combine",
    "fit_router",
    "oracle_routing",
    "from_state",
    "out_of_fold_predictions",
    "path_evidence",
    "predict",
    "route_switch_share",
    "to_state",
    "train",
    "train_neural_only",
    "weight_vector",
]
