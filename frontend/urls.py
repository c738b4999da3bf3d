from django.urls import path

from frontend import views, views_dataset, views_frames, views_quality

app_name = "frontend"
urlpatterns = [
    path("", views.home, name="home"),
    path("work/", views.work, name="work"),
    path("progress/", views.progress, name="progress"),
    path("quality/", views_quality.quality, name="quality"),
    path("datasets/<slug:slug>/", views_dataset.dataset_page, name="dataset"),
    path("videos/<int:video_id>/frames/", views_frames.filmstrip, name="filmstrip"),
    path("frames/<int:frame_id>.jpg", views_frames.frame_image, name="frame-image"),
    path("videos/<int:video_id>/thumbnail", views_frames.thumbnail_image, name="thumbnail-image"),
]
