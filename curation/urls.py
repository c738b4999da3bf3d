"""Curation's REST API, mounted under /api/v1/ (config/urls.py): datasets, ingest, videos,
labels, splits, exports and the baseline models."""

from django.urls import path, re_path

from curation import api, api_actions, api_dashboard, api_exports, api_labels, api_models, api_splits

app_name = "curation"
urlpatterns = [
    path("datasets/", api.DatasetListCreate.as_view(), name="dataset-list"),
    path("datasets/<slug:slug>/", api.DatasetDetail.as_view(), name="dataset-detail"),
    path("datasets/<slug:slug>/ingest/", api.DatasetIngest.as_view(), name="dataset-ingest"),
    path("datasets/<slug:slug>/videos/", api.VideoList.as_view(), name="video-list"),
    path("videos/<int:pk>/", api.VideoDetail.as_view(), name="video-detail"),
    re_path(
        r"^videos/(?P<pk>[0-9]+)/subtitles\.(?P<fmt>srt|vtt)$",
        api.VideoSubtitles.as_view(),
        name="video-subtitles",
    ),
    # Labels: noise estimates, agreement, verdicts (the POST that aggregates is the annotator's).
    path("datasets/<slug:slug>/noise/", api_labels.DatasetNoise.as_view(), name="dataset-noise"),
    path("datasets/<slug:slug>/agreement/", api_labels.DatasetAgreement.as_view(), name="dataset-agreement"),
    path("datasets/<slug:slug>/verdicts/", api_labels.DatasetVerdicts.as_view(), name="dataset-verdicts"),
    # Split versions.
    path("datasets/<slug:slug>/splits/", api_splits.SplitListMake.as_view(), name="split-list"),
    path("datasets/<slug:slug>/splits/<slug:name>/", api_splits.SplitDetail.as_view(), name="split-detail"),
    path(
        "datasets/<slug:slug>/splits/<slug:name>/freeze/",
        api_splits.SplitFreeze.as_view(),
        name="split-freeze",
    ),
    path(
        "datasets/<slug:slug>/splits/<slug:name>/diff/<slug:other>/",
        api_splits.SplitDiff.as_view(),
        name="split-diff",
    ),
    # Exports.
    path("datasets/<slug:slug>/exports/", api_exports.ExportCreate.as_view(), name="export-create"),
    path("datasets/<slug:slug>/model-runs/", api_models.ModelRunListCreate.as_view(), name="model-run-list"),
    path("model-runs/<int:pk>/", api_models.ModelRunDetail.as_view(), name="model-run-detail"),
    path("datasets/<slug:slug>/scores/", api_models.DatasetScore.as_view(), name="dataset-score"),
    path("videos/<int:pk>/scores/", api_models.VideoScores.as_view(), name="video-scores"),
    # Pre-labels and learnability (issue 16).
    path("datasets/<slug:slug>/prelabels/", api_models.PrelabelList.as_view(), name="prelabel-list"),
    path(
        "datasets/<slug:slug>/prelabels/accept/", api_models.PrelabelAccept.as_view(), name="prelabel-accept"
    ),
    path(
        "datasets/<slug:slug>/learnability/",
        api_models.DatasetLearnability.as_view(),
        name="dataset-learnability",
    ),
    # The dataset page's sections (issue 18; annotation and thumbnails: the annotator's urls).
    path(
        "datasets/<slug:slug>/dashboard/pipeline/",
        api_dashboard.DashboardPipeline.as_view(),
        name="dashboard-pipeline",
    ),
    path(
        "datasets/<slug:slug>/dashboard/quality/",
        api_dashboard.DashboardQuality.as_view(),
        name="dashboard-quality",
    ),
    path(
        "datasets/<slug:slug>/dashboard/frames/",
        api_dashboard.DashboardFrames.as_view(),
        name="dashboard-frames",
    ),
    path(
        "datasets/<slug:slug>/dashboard/models/",
        api_dashboard.DashboardModels.as_view(),
        name="dashboard-models",
    ),
    # The dataset page's actions (issue 18): what runs and ran, and the retry of failed stages.
    path("datasets/<slug:slug>/actions/", api_actions.DatasetActions.as_view(), name="dataset-actions"),
    path("actions/<int:pk>/", api_actions.ActionDetail.as_view(), name="action-detail"),
    path("datasets/<slug:slug>/pipeline/retry/", api_actions.PipelineRetry.as_view(), name="pipeline-retry"),
    path("exports/<int:pk>/", api_exports.ExportDetail.as_view(), name="export-detail"),
    path("exports/<int:pk>/files/<path:name>", api_exports.ExportFile.as_view(), name="export-file"),
]
