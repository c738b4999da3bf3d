from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from annotator import urls as annotator_urls
from frontend.login import (
    ThrottledAdminAuthenticationForm,
    ThrottledAuthenticationForm,
    answer_429_when_throttled,
)

# Both sign-in pages count failed passwords and refuse guessing (frontend/login_throttle.py).
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("admin/login/", answer_429_when_throttled(admin.site.login)),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        answer_429_when_throttled(
            auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm)
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("curation.urls")),
    path("api/v1/annotation/", include("annotator.urls")),
    path("api/v1/", include(annotator_urls.dataset_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("frontend.urls")),
]
