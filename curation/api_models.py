"""REST API for the baseline models (staff only): train (a background job on the ml queue),
follow a training, score a dataset, read a video's scores, list and accept pre-labels, read the
per-topic learnability."""

from dataclasses import asdict

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.api_actions import ActionOutput
from curation.errors import ModelNotFound
from curation.models import ActionKind, ModelRun, Video, VideoScore
from curation.selectors_actions import action_json
from curation.services.actions import action_run
from curation.services.datasets import dataset_get
from curation.services.modelling import model_run_create, model_run_enqueue, prelabel_list, prelabels_accept
from curation.services.modelling.learnability import learnability


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


class ModelRunActionOutput(ModelRunOutput):
    action = ActionOutput()

    class Meta(ModelRunOutput.Meta):
        fields = [*ModelRunOutput.Meta.fields, "action"]


class ScoreOutput(serializers.Serializer):
    detail = serializers.CharField()
    action = ActionOutput()


class ScoreRequestInput(serializers.Serializer):
    model = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="A ModelRun id."
    )


class VideoScoreOutput(serializers.ModelSerializer):
    thumbnail_frame = serializers.IntegerField(source="thumbnail_frame.index", read_only=True, default=None)

    class Meta:
        model = VideoScore
        fields = [
            "model_version", "model_run", "weak_topic_probability", "likely_noise", "top_topics", "branches",
            "thumbnail_scores", "thumbnail_frame", "scored_at",
        ]  # fmt: skip


class ModelRunListCreate(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=ModelRunOutput(many=True))
    def get(self, request, slug: str):
        runs = ModelRun.objects.filter(dataset=dataset_get(slug=slug)).select_related("dataset", "split")
        return Response(ModelRunOutput(runs.defer("state"), many=True).data)

    @extend_schema(request=ModelRunInput, responses={202: ModelRunActionOutput})
    def post(self, request, slug: str):
        data = ModelRunInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        dataset = dataset_get(slug=slug)
        with action_run(dataset=dataset, kind=ActionKind.TRAIN, user=request.user, params=values) as action:
            # One transaction: the training is queued once the action follows it.
            with transaction.atomic():
                run = model_run_create(
                    dataset=dataset, split_name=values["split"], modalities=values["modalities"],
                    fusion=values["fusion"], user=request.user,
                )  # fmt: skip
                action.link(model_run=run, message=f"training {run.version} queued")
                model_run_enqueue(run=run)
        body = ModelRunOutput(run).data
        return Response({**body, "action": action_json(action.action)}, status=status.HTTP_202_ACCEPTED)


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

    @extend_schema(request=ScoreRequestInput, responses={202: ScoreOutput})
    def post(self, request, slug: str):
        from curation import tasks

        data = ScoreRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_get(slug=slug)
        run_id = data.validated_data["model"]
        params = data.validated_data
        with action_run(dataset=dataset, kind=ActionKind.SCORE, user=request.user, params=params) as action:
            if (
                run_id is not None
                and not ModelRun.objects.filter(id=run_id, dataset=dataset, status="done").exists()
            ):
                raise ModelNotFound(f"dataset {dataset.slug} has no finished model run {run_id}")
            # The action stays running until the job ends it (services/actions.score_action_run).
            tasks.dataset_score_task.delay_on_commit(dataset.id, run_id, action.action.id)
            action.link(message=f"scoring of {dataset.slug} queued")
        body = {"detail": f"scoring of {dataset.slug} queued", "action": action_json(action.action)}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class VideoScores(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=VideoScoreOutput(many=True))
    def get(self, request, pk: int):
        video = get_object_or_404(Video, pk=pk)
        scores = VideoScore.objects.filter(video=video).select_related("thumbnail_frame")
        return Response(VideoScoreOutput(scores, many=True).data)


# --- pre-labels (issue 16) -------------------------------------------------------------------


class PrelabelOutput(serializers.ModelSerializer):
    external_id = serializers.CharField(source="video.external_id")
    title = serializers.CharField(source="video.title")
    weak_topic = serializers.CharField(source="video.weak_topic.name", default=None)
    top_topic = serializers.SerializerMethodField()
    accepted = serializers.BooleanField(help_text="A model verdict of this video exists.")

    class Meta:
        model = VideoScore
        fields = [
            "video", "external_id", "title", "weak_topic", "top_topic", "weak_topic_probability",
            "likely_noise", "model_version", "model_run", "top_topics", "accepted", "scored_at",
        ]  # fmt: skip

    def get_top_topic(self, obj: VideoScore) -> str | None:
        return obj.top_topics[0]["name"] if obj.top_topics else None


class PrelabelFilters(serializers.Serializer):
    likely_noise = serializers.ChoiceField(choices=["true", "false"], required=False)
    topic = serializers.CharField(required=False, help_text="A weak topic's name.")


class PrelabelList(ListAPIView):
    """The dataset's pre-labels (its latest finished ModelRun's scores), paginated (?limit,
    ?offset); filter with ?likely_noise=true|false and ?topic=<weak topic name>."""

    permission_classes = [IsAdminUser]
    serializer_class = PrelabelOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("likely_noise", str, enum=["true", "false"]),
            OpenApiParameter("topic", str),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = PrelabelFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        likely_noise = values.get("likely_noise")
        return prelabel_list(
            dataset=dataset_get(slug=self.kwargs["slug"]),
            likely_noise=None if likely_noise is None else likely_noise == "true",
            topic=values.get("topic") or None,
        )


class PrelabelAcceptInput(serializers.Serializer):
    likely_noise = serializers.BooleanField(required=False, allow_null=True, default=None)
    topic = serializers.CharField(required=False, allow_null=True, default=None)
    videos = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, default=None,
        help_text="Video ids; with filters, the videos among them that match.",
    )  # fmt: skip


class PrelabelAcceptOutput(serializers.Serializer):
    dataset = serializers.CharField()
    model_version = serializers.CharField()
    run_id = serializers.IntegerField(allow_null=True, help_text="The AggregationRun of method model.")
    accepted = serializers.IntegerField()
    verdicts = serializers.DictField(child=serializers.IntegerField())
    replaced = serializers.IntegerField()
    without_prelabel = serializers.IntegerField()
    detail = serializers.CharField()


class PrelabelAccept(APIView):
    """Accept pre-labels in bulk as verdicts of method `model` (never mixed with human ones)."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=PrelabelAcceptInput, responses=PrelabelAcceptOutput)
    def post(self, request, slug: str):
        data = PrelabelAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        summary = prelabels_accept(
            dataset=dataset_get(slug=slug), video_ids=values["videos"], likely_noise=values["likely_noise"],
            topic=values["topic"] or None, user=request.user,
        )  # fmt: skip
        return Response(PrelabelAcceptOutput({**asdict(summary), "detail": str(summary)}).data)


class DatasetLearnability(APIView):
    """MV-58K's learnability: per topic AP against log10 training examples, from the latest
    finished ModelRun (?run=<id> for another), and the unlearnable topics."""

    permission_classes = [IsAdminUser]

    class Filters(serializers.Serializer):
        run = serializers.IntegerField(required=False, min_value=1, help_text="A finished ModelRun id.")

    @extend_schema(parameters=[OpenApiParameter("run", int)], responses={200: dict})
    def get(self, request, slug: str):
        filters = self.Filters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        dataset = dataset_get(slug=slug)
        return Response(learnability(dataset=dataset, run=filters.validated_data.get("run")))
