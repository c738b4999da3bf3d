"""REST endpoints for exports (staff only): request one, follow it, download its files."""

from django.db import transaction
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.api_actions import ActionOutput
from curation.models import ActionKind, Dataset, ExportFormat, ExportJob
from curation.selectors_actions import action_json, export_file_urls
from curation.services.actions import action_run
from curation.services.exports import export_file_get, export_request


class ExportRequestInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    split = serializers.SlugField(required=False, allow_null=True, default=None, help_text="A frozen split.")


class ExportJobOutput(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    split = serializers.SlugRelatedField(slug_field="name", read_only=True)
    progress = serializers.FloatField(read_only=True)
    files = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id", "dataset", "split", "format", "status", "progress", "rows_total", "rows_done", "error",
            "manifest", "files", "created_at", "started_at", "finished_at",
        ]  # fmt: skip

    def get_files(self, job: ExportJob) -> list[str]:
        request = self.context.get("request")
        urls = export_file_urls(job)
        return [request.build_absolute_uri(url) for url in urls] if request else urls


class ExportActionOutput(ExportJobOutput):
    action = ActionOutput()

    class Meta(ExportJobOutput.Meta):
        fields = [*ExportJobOutput.Meta.fields, "action"]


class ExportCreate(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=ExportRequestInput, responses={202: ExportActionOutput})
    def post(self, request, slug: str):
        dataset = get_object_or_404(Dataset, slug=slug)
        data = ExportRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with action_run(dataset=dataset, kind=ActionKind.EXPORT, user=request.user, params=values) as run:
            # One transaction: the job is queued once the action follows it, so its end finds it.
            with transaction.atomic():
                job = export_request(dataset=dataset, user=request.user, **values)
                run.link(export_job=job, message=f"{job.format} export {job.status}")
        body = ExportJobOutput(job, context={"request": request}).data
        return Response({**body, "action": action_json(run.action)}, status=status.HTTP_202_ACCEPTED)


class ExportDetail(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=ExportJobOutput)
    def get(self, request, pk: int):
        job = get_object_or_404(ExportJob.objects.select_related("dataset", "split"), id=pk)
        return Response(ExportJobOutput(job, context={"request": request}).data)


class ExportFile(APIView):
    """One file of a finished export, by its name in the manifest (nothing else is served)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk: int, name: str):
        job = get_object_or_404(ExportJob, id=pk)
        path = export_file_get(job=job, name=name)
        return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)  # noqa: SIM115
