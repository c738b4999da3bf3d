"""GET datasets/<slug>/dashboard/annotation/ and .../thumbnails/ (staff only): the dataset page's
sections that read the annotator's tables, mounted under /api/v1/ beside curation's sections
(curation/api_dashboard.py: the dataset lookup, paging and the other sections)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from annotator.selectors_dashboard import dashboard_annotation, dashboard_thumbnails
from curation.api_dashboard import PAGE_PARAMETERS, DashboardView, dashboard_dataset, page_params


class DashboardAnnotation(DashboardView):
    """Per kind answers in / needed and median seconds per answer, answers per hour (24 h), active
    workers, per-worker gold accuracy, peer agreement, flags and paused / excluded (paged)."""

    @extend_schema(parameters=PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str):
        dataset = dashboard_dataset(slug)
        return Response(dashboard_annotation(dataset=dataset, **page_params(request)))


class DashboardThumbnails(DashboardView):
    """Candidate frames per video, the ground truth's similarity, and the crowd's agreement with
    the ground truth by clicks bucket."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str):
        return Response(dashboard_thumbnails(dataset=dashboard_dataset(slug)))
