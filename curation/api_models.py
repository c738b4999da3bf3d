"""REST API for the baseline models (staff only): train (a background job on the ml queue),
follow a training, score a dataset, read a video's scores."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.errors import ModelNotFound
from curation.models import ModelRun, Video, VideoScore
from curation.services.datasets import dataset_get
from curation.services.modelling import model_run_create, model_run_enqueue


class ModelRunInput(serializers.Serializer):
    split = serializers.SlugField(help_text="A frozen split version.")
    modalities = serializers.CharField(default="visual,audio,text", help_text="Comma-separated subset.")
    fusion = serializers.ChoiceField(choices=["usv", "fitted"], default="usv")


class ModelRunOutput(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    split = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = ModelRun
        fields = [
            "id", "dataset", "split", "version", "status", "progress", "stage", "settings", "metrics",
            "train_seconds", "error", "created_at", "started_at", "finished_at",
        ]  # fmt: skip


class ScoreRequestInput(serializers.Serializer):
    model = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="A ModelRun id."
    )


class VideoScoreOutput(serializers.ModelSerializer):
    thumbnail_frame = serializers.IntegerField(source="thumbnail_frame.index", read_only=True, default=None)

    class Meta:
        model = VideoScore
        fields = [
            "model_version", "model_run", "weak_topic_probability", "top_topics", "branches",
            "thumbnail_scores", "thumbnail_frame", "scored_at",
        ]  # fmt: skip


class ModelRunListCreate(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=ModelRunOutput(many=True))
    def get(self, request, slug: str):
        runs = ModelRun.objects.filter(dataset=dataset_get(slug=slug)).select_related("dataset", "split")
        return Response(ModelRunOutput(runs.defer("state"), many=True).data)

    @extend_schema(request=ModelRunInput, responses={202: ModelRunOutput})
    def post(self, request, slug: str):
        data = ModelRunInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        run = model_run_create(
            dataset=dataset_get(slug=slug), split_name=values["split"], modalities=values["modalities"],
            fusion=values["fusion"], user=request.user,
        )  # fmt: skip
        model_run_enqueue(run=run)
        return Response(ModelRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class ModelRunDetail(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=ModelRunOutput)
    def get(self, request, pk: int):
        run = ModelRun.objects.select_related("dataset", "split").defer("state").filter(pk=pk).first()
        if run is None:
            raise ModelNotFound(f"there is no model run {pk}")
        return Response(ModelRunOutput(run).data)


class DatasetScore(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=ScoreRequestInput, responses={202: None})
    def post(self, request, slug: str):
        from curation import tasks

        data = ScoreRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_get(slug=slug)
        run_id = data.validated_data["model"]
        if (
            run_id is not None
            and not ModelRun.objects.filter(id=run_id, dataset=dataset, status="done").exists()
        ):
            raise ModelNotFound(f"dataset {dataset.slug} has no finished model run {run_id}")
        tasks.dataset_score_task.delay_on_commit(dataset.id, run_id)
        return Response({"detail": f"scoring of {dataset.slug} queued"}, status=status.HTTP_202_ACCEPTED)


class VideoScores(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=VideoScoreOutput(many=True))
    def get(self, request, pk: int):
        video = get_object_or_404(Video, pk=pk)
        scores = VideoScore.objects.filter(video=video).select_related("thumbnail_frame")
        return Response(VideoScoreOutput(scores, many=True).data)
