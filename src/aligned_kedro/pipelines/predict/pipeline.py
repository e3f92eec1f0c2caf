from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes

OUTPUTS = [
    "predictions",
    "predictions_parquet",
    "predictions_h5ad",
    "predictions_de",
    "test_de_predicted",
    "test_de_observed",
    "predictions_report_html",
]


def bundle_pipeline(shape: PipelineShape = DEFAULT_SHAPE) -> Pipeline:
    """The node that ends ``aligned``: the last round's model and refined KB, with what
    predicting needs, as the ``predictor`` bundle (versioned, and an MLflow model)."""
    final = f"round_{shape.rounds}"
    return pipeline(
        [
            node(
                nodes.bundle,
                [
                    f"{final}.aligned_model",
                    f"{final}.refined_kb_table",
                    "knowledge_base_table",
                    "universe_table",
                    "raw_genes",
                    "raw_synonyms",
                    "labels_table",
                    "perturbations_table",
                    "conditions_split",
                    "params:k",
                    "params:knowledge_base",
                    "params:data_processing.genes",
                ],
                "predictor",
                name="predictor_bundle",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """``predict``: the newest (or ``predict.run_id``'s) bundle asked about
    ``predict.perturbations`` or the ``predict_requests`` table."""
    return pipeline(
        [
            node(
                nodes.predict,
                ["predictor_source", "predict_requests", "params:predict"],
                OUTPUTS,
                name="predict",
            )
        ]
    )
