"""REST API for dataset admins (staff only): datasets, ingest, videos."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation import selectors
from curation.api_actions import ActionOutput
from curation.models import ActionKind, Dataset, StageStatus, Video
from curation.selectors_actions import action_json
from curation.services.actions import action_run
from curation.services.datasets import dataset_create
from curation.services.ingest import video_ingest_upload
from curation.services.ocr import subtitle_render


class DatasetOutput(serializers.ModelSerializer):
    video_count = serializers.IntegerField(read_only=True)
    topic_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "slug", "name", "description", "open_world_topics", "sample_fps", "dark_threshold",
            "blur_threshold", "uniform_threshold", "near_duplicate_threshold",
            "thumbnail_check_similarity", "annotation_overlap", "settings", "video_count",
            "topic_count", "created_at",
        ]  # fmt: skip


class DatasetCreateInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200, required=False, default="")
    taxonomy = serializers.ChoiceField(choices=["usv"], required=False, allow_null=True, default=None)
    open_world_topics = serializers.BooleanField(default=False)
    sample_fps = serializers.FloatField(required=False, min_value=0.01, max_value=30)
    annotation_overlap = serializers.IntegerField(required=False, min_value=1, max_value=20)


class DatasetListCreate(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=DatasetOutput(many=True))
    def get(self, request):
        return Response(DatasetOutput(selectors.dataset_list(), many=True).data)

    @extend_schema(request=DatasetCreateInput, responses={201: DatasetOutput})
    def post(self, request):
        data = DatasetCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_create(**data.validated_data)
        dataset = selectors.dataset_list().get(id=dataset.id)
        return Response(DatasetOutput(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetail(RetrieveAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = DatasetOutput
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.dataset_list()


class IngestInput(serializers.Serializer):
    manifest = serializers.FileField()
    pipeline = serializers.ChoiceField(choices=["queue", "none"], default="queue")


class RowErrorOutput(serializers.Serializer):
    row = serializers.IntegerField()
    field = serializers.CharField()
    reason = serializers.CharField()
    item = serializers.CharField()


class IngestOutput(serializers.Serializer):
    run_id = serializers.IntegerField()
    rows_read = serializers.IntegerField()
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = RowErrorOutput(many=True)


class IngestResponse(IngestOutput):
    action = ActionOutput()


ERRORS_KEPT = 20  # rejected rows an ingest action keeps (the response lists them all)


class DatasetIngest(APIView):
    """Upload a JSONL or CSV manifest; relative paths in it start at MEDIA_ROOT."""

    permission_classes = [IsAdminUser]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": IngestInput}, responses=IngestResponse)
    def post(self, request, slug: str):
        dataset = get_object_or_404(Dataset, slug=slug)
        data = IngestInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload, pipeline = data.validated_data["manifest"], data.validated_data["pipeline"]
        params = {"manifest": upload.name, "pipeline": pipeline}
        with action_run(dataset=dataset, kind=ActionKind.INGEST, user=request.user, params=params) as run:
            summary = video_ingest_upload(dataset=dataset, upload=upload, pipeline=pipeline)
            body = IngestOutput(summary).data
            run.done(message=str(summary), result={**body, "errors": body["errors"][:ERRORS_KEPT]})
        return Response({**body, "action": action_json(run.action)})


class VideoOutput(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    weak_topic = serializers.SlugRelatedField(slug_field="name", read_only=True)
    publisher = serializers.SlugRelatedField(slug_field="external_id", read_only=True)

    class Meta:
        model = Video
        fields = [
            "id", "dataset", "external_id", "source", "source_kind", "sha256", "title", "weak_topic",
            "publisher", "clicks", "thumbnail", "metadata", "duration", "duration_source", "fps",
            "width", "height", "rotation", "display_width", "display_height", "has_audio",
            "video_codec", "audio_codec", "container", "size_bytes", "probe_status", "error",
            "created_at", "updated_at", "probed_at",
        ]  # fmt: skip


class VideoList(ListAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = VideoOutput

    class Filters(serializers.Serializer):
        probe_status = serializers.ChoiceField(choices=StageStatus.values, required=False)
        topic = serializers.CharField(required=False)
        search = serializers.CharField(required=False)

    def get_queryset(self):
        dataset = get_object_or_404(Dataset, slug=self.kwargs["slug"])
        filters = self.Filters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.video_list(dataset=dataset, **filters.validated_data)


class VideoDetail(RetrieveAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = VideoOutput
    queryset = Video.objects.select_related("dataset", "weak_topic", "publisher")


class VideoSubtitles(APIView):
    """The video's subtitle cues (OCR stage) as SRT or WebVTT. An empty subtitle comes with the
    reason in the X-Subtitle-Empty-Reason header; 404 until the OCR stage has run."""

    permission_classes = [IsAdminUser]
    MEDIA_TYPES = {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}

    @extend_schema(responses={(200, "text/plain"): str})
    def get(self, request, pk: int, fmt: str):
        video = get_object_or_404(Video.objects.select_related("subtitle"), pk=pk)
        subtitle = getattr(video, "subtitle", None)
        if subtitle is None:
            return Response(
                {"detail": f"no subtitles yet: the OCR stage is {video.ocr_status}"},
                status=status.HTTP_404_NOT_FOUND,
            )
        response = HttpResponse(subtitle_render(video=video, fmt=fmt), content_type=self.MEDIA_TYPES[fmt])
        response["Content-Disposition"] = f'inline; filename="video-{video.id}.{fmt}"'
        if subtitle.reason:
            response["X-Subtitle-Empty-Reason"] = subtitle.reason.encode("ascii", "replace").decode()
        return response
