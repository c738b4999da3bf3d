from django.urls import path

from curation import api

app_name = "curation"
urlpatterns = [
    path("datasets/", api.DatasetListCreate.as_view(), name="dataset-list"),
    path("datasets/<slug:slug>/", api.DatasetDetail.as_view(), name="dataset-detail"),
    path("datasets/<slug:slug>/ingest/", api.DatasetIngest.as_view(), name="dataset-ingest"),
    path("datasets/<slug:slug>/videos/", api.VideoList.as_view(), name="video-list"),
    path("videos/<int:pk>/", api.VideoDetail.as_view(), name="video-detail"),
]
