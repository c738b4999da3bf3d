from django.urls import path, re_path

from curation import api, api_exports, api_labels, api_splits

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
]
urlpatterns += api_labels.urlpatterns + api_splits.urlpatterns + api_exports.urlpatterns
