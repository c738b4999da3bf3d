"""The baseline models in the product: feature stages (`features`), training runs (`training`),
scores (`scoring`), the arrays they hand to ml/ (`tables`), pre-labels and their acceptance as
model verdicts (`prelabels`) and per-topic learnability (`learnability`).

Entry points load on first use (PEP 562): the pipeline's stage table and the Celery tasks name
them, and importing this package must not bring numpy, torch and the models into every command.
`learnability.learnability` is imported from its module: the package attribute of that name is
the submodule once it is loaded."""

_ENTRY_POINTS = {
    "video_audio_features": "features",
    "video_features": "features",
    "video_score": "scoring",
    "dataset_score": "scoring",
    "scores_compute": "scoring",
    "thumbnail_scores": "scoring",
    "model_run_latest": "scoring",
    "model_run_create": "training",
    "model_run_train": "training",
    "model_run_enqueue": "training",
    "scores_enqueue": "training",
    "prelabel_list": "prelabels",
    "prelabels_accept": "prelabels",
    "prelabel_counts": "prelabels",
}
__all__ = list(_ENTRY_POINTS)


def __getattr__(name: str):
    module = _ENTRY_POINTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
