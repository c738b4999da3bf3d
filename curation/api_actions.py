"""REST API of the dataset page's actions (staff only): what runs and ran on a dataset, one
action, and the retry of failed pipeline stages. The POSTs that start the other kinds are the
endpoints they always were (ingest, splits, exports, ...), each recording its action."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.models import ActionKind
from curation.selectors_actions import action_get, action_json, action_list
from curation.services.actions import action_run, actions_settle
from curation.services.datasets import dataset_get
from curation.services.pipeline.retry import pipeline_retry


class ActionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    dataset = serializers.CharField()
    kind = serializers.ChoiceField(choices=ActionKind.choices)
    state = serializers.ChoiceField(choices=["running", "done", "failed"])
    params = serializers.DictField()
    message = serializers.CharField()
    result = serializers.DictField()
    progress = serializers.FloatField(allow_null=True, help_text="0-1; null when not known.")
    started_by = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    links = serializers.DictField(
        help_text="export, files (download paths), model_run, split: as they apply."
    )


class ActionListOutput(serializers.Serializer):
    running = ActionOutput(many=True)
    recent = ActionOutput(many=True, help_text="Finished actions, newest first, at most 20.")


class RetryInput(serializers.Serializer):
    stage = serializers.CharField(required=False, allow_null=True, default=None, max_length=20)
    reason = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=2000, trim_whitespace=False,
        help_text="A failure reason exactly as dashboard/pipeline/ failures[].reason gives it.",
    )  # fmt: skip
    video_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, allow_null=True, default=None,
        max_length=10000,
    )  # fmt: skip

    def validate(self, attrs):
        if attrs["reason"] is None and attrs["video_ids"] is None:
            raise serializers.ValidationError("give a stage and a reason, or video_ids")
        return attrs


class RetryOutput(serializers.Serializer):
    retried = serializers.IntegerField()
    videos = serializers.ListField(child=serializers.IntegerField())
    stages = serializers.DictField(child=serializers.IntegerField(), help_text="Stage queued again → videos.")
    message = serializers.CharField()
    action = ActionOutput()


class PipelineRetry(APIView):
    """Put failed stages back in the queue: those of one failure reason, or of chosen videos."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=RetryInput, responses={202: RetryOutput})
    def post(self, request, slug: str):
        dataset = dataset_get(slug=slug)
        data = RetryInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with action_run(dataset=dataset, kind=ActionKind.RETRY, user=request.user, params=values) as run:
            summary = pipeline_retry(dataset=dataset, **values)
            body = {"retried": summary.retried, "videos": summary.videos, "stages": summary.stages}
            run.done(message=str(summary), result=body)
        body = {**body, "message": str(summary), "action": action_json(run.action)}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class DatasetActions(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=ActionListOutput)
    def get(self, request, slug: str):
        dataset = dataset_get(slug=slug)
        actions_settle(dataset=dataset)
        return Response(action_list(dataset=dataset))


class ActionDetail(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=ActionOutput)
    def get(self, request, pk: int):
        action = action_get(action_id=pk)
        if action.state == "running":
            actions_settle(dataset=action.dataset)
            action = action_get(action_id=pk)
        return Response(action_json(action))
