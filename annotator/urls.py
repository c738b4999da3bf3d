"""The annotator's URLs: the annotation API (mounted under /api/v1/annotation/, namespace
"annotator") and the aggregation endpoint, which config/urls.py mounts under /api/v1/ beside
curation's label endpoints, with its name un-namespaced ("dataset-aggregate")."""

from django.urls import path

from annotator import api, api_aggregation, api_dashboard, views

app_name = "annotator"
urlpatterns = [
    path("next/", api.NextTask.as_view(), name="next"),
    path("assignments/<int:pk>/", api.AssignmentDetail.as_view(), name="assignment"),
    path("assignments/<int:pk>/answer/", api.SubmitAnswer.as_view(), name="answer"),
    path("assignments/<int:pk>/undo/", api.UndoAnswer.as_view(), name="undo"),
    path("me/", api.MyStats.as_view(), name="me"),
    path("media/<str:token>/", views.media, name="media"),
    path("datasets/<slug:slug>/tasks/", api.DatasetTasks.as_view(), name="dataset-tasks"),
    path("workers/<str:username>/", api.WorkerStanding.as_view(), name="worker"),
    path("tasks/<int:pk>/gold/", api.MakeGold.as_view(), name="gold"),
]

dataset_urlpatterns = [
    path(
        "datasets/<slug:slug>/aggregate/",
        api_aggregation.DatasetAggregate.as_view(),
        name="dataset-aggregate",
    ),
    # The dataset page's sections over annotator data (issue 18; the rest: curation's urls).
    path(
        "datasets/<slug:slug>/dashboard/annotation/",
        api_dashboard.DashboardAnnotation.as_view(),
        name="dashboard-annotation",
    ),
    path(
        "datasets/<slug:slug>/dashboard/thumbnails/",
        api_dashboard.DashboardThumbnails.as_view(),
        name="dashboard-thumbnails",
    ),
]
