"""GET datasets/<slug>/dashboard/<section>/ (staff only): the numbers the dataset page charts,
one endpoint per section, each calling one selector of curation/selectors_dashboard.py. The
annotation and thumbnails sections read the annotator's tables: annotator/api_dashboard.py.

A long list (topics, workers) is paged with ?limit= (default 50) and ?offset=, and says its
`total`.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.models import Dataset
from curation.selectors_dashboard import (
    dashboard_frames,
    dashboard_models,
    dashboard_pipeline,
    dashboard_quality,
)

DEFAULT_LIMIT = 50
PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit", int, description=f"Rows of the long lists (default {DEFAULT_LIMIT}, at most 1000)."
    ),
    OpenApiParameter("offset", int, description="Rows to skip (default 0)."),
]


class PageInput(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=DEFAULT_LIMIT)
    offset = serializers.IntegerField(min_value=0, default=0)


def dashboard_dataset(slug: str) -> Dataset:
    dataset = Dataset.objects.filter(slug=slug).first()
    if dataset is None:
        raise NotFound(f"there is no dataset {slug!r}")
    return dataset


def page_params(request) -> dict:
    params = PageInput(data=request.query_params)
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


class DashboardView(APIView):
    permission_classes = [IsAdminUser]


class DashboardPipeline(DashboardView):
    """Per stage: pending / running / done / failed / skipped, throughput over the last 10 minutes
    and time left; failures grouped by reason, with up to 20 videos each."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str):
        return Response(dashboard_pipeline(dataset=dashboard_dataset(slug)))


class DashboardQuality(DashboardView):
    """Noise rates with 95 % intervals (overall, per topic paged, per macro topic, per split subset),
    human and model side by side; the overall rate over time; kappa / alpha; disputed videos."""

    @extend_schema(parameters=PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str):
        dataset = dashboard_dataset(slug)
        return Response(dashboard_quality(dataset=dataset, **page_params(request)))


class DashboardFrames(DashboardView):
    """Share of frames flagged dark / blurry / uniform / near-duplicate, per dataset and per topic
    (paged), with example frame ids."""

    @extend_schema(parameters=PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str):
        dataset = dashboard_dataset(slug)
        return Response(dashboard_frames(dataset=dataset, **page_params(request)))


class DashboardModels(DashboardView):
    """Every ModelRun with its per-branch and fused metrics; learnability and unlearnable topics."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str):
        return Response(dashboard_models(dataset=dashboard_dataset(slug)))
