"""POST datasets/<slug>/aggregate/ (staff): aggregate the dataset's answers into verdicts.

It lives in the annotator app because it gathers the annotator's answers (curation may not
import this app); annotator/urls.py mounts it under /api/v1/ beside curation's label endpoints
(GET noise/, agreement/, verdicts/).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.services.aggregation import dataset_aggregate
from curation.api_actions import ActionOutput
from curation.models import ActionKind, Dataset
from curation.selectors_actions import action_json
from curation.services.actions import action_run


class AggregateInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=["auto", "usv", "mv", "ds"], default="auto")


class AggregateOutput(serializers.Serializer):
    run_id = serializers.IntegerField()
    method = serializers.CharField()
    requested = serializers.CharField()
    reason = serializers.CharField()
    items = serializers.IntegerField()
    answers = serializers.IntegerField()
    workers = serializers.IntegerField()
    excluded_workers = serializers.IntegerField()
    gold_items = serializers.IntegerField()
    external_answers = serializers.IntegerField()
    verdicts = serializers.DictField(child=serializers.IntegerField())
    estimates = serializers.IntegerField(help_text="Noise estimates recorded.")
    seconds = serializers.FloatField()
    message = serializers.CharField()


class AggregateActionOutput(AggregateOutput):
    action = ActionOutput()


class DatasetAggregate(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=AggregateInput, responses={201: AggregateActionOutput})
    def post(self, request, slug: str):
        dataset = get_object_or_404(Dataset, slug=slug)
        data = AggregateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with action_run(dataset=dataset, kind=ActionKind.AGGREGATE, user=request.user, params=values) as run:
            summary = dataset_aggregate(dataset=dataset, method=values["method"])
            body = AggregateOutput(
                {**summary.__dict__, "estimates": len(summary.estimates), "message": str(summary)}
            ).data
            run.done(message=str(summary), result={k: v for k, v in body.items() if k != "message"})
        return Response({**body, "action": action_json(run.action)}, status=status.HTTP_201_CREATED)
