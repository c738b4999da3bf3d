"""REST endpoints for labels (staff only): noise estimates, agreement, verdicts.

Running an aggregation needs the annotator's answers, which curation may not import: its POST
endpoint lives in `annotator/api_aggregation.py`.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.models import AggregationMethod, Dataset, NoiseEstimate, VerdictLabel, VideoVerdict
from curation.selectors_labels import aggregation_run_latest, disputed_list, verdict_list
from curation.services.labels.noise import BIASED_PREFIX
from curation.services.labels.noise_model import noise_report


class NoiseEstimateOutput(serializers.ModelSerializer):
    biased = serializers.SerializerMethodField(
        help_text="The plain rate over videos a non-random verification order chose: not the dataset's."
    )

    class Meta:
        model = NoiseEstimate
        fields = [
            "estimator", "method", "scope", "key", "noisy", "n", "rate", "low", "high", "interval",
            "confidence", "population", "expected_low", "expected_high", "run", "created_at", "biased",
        ]  # fmt: skip

    def get_biased(self, estimate: NoiseEstimate) -> bool:
        return estimate.key.startswith(BIASED_PREFIX)


class NoiseBiasOutput(serializers.Serializer):
    biased = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    orders = serializers.ListField(child=serializers.CharField())
    chosen = serializers.IntegerField(help_text="Judged videos a non-random order chose.")
    judged = serializers.IntegerField(allow_null=True)
    random_judged = serializers.IntegerField(allow_null=True, help_text="The unbiased estimate's n.")


class ModelRunRef(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.CharField()


class NoiseOutput(serializers.Serializer):
    latest = NoiseEstimateOutput(many=True, help_text="The latest human estimates.")
    bias = NoiseBiasOutput(help_text="Whether a non-random verification order biased the human estimate.")
    model = NoiseEstimateOutput(
        many=True, help_text="The latest model estimates for the unverified videos (calibrated scores)."
    )
    model_run = ModelRunRef(allow_null=True)
    history = NoiseEstimateOutput(many=True)


class DatasetNoise(APIView):
    """The latest batch of human estimates (dataset, macro topics, topics, split subsets,
    extrapolation) with whether a model-driven verification order biased them, the latest model
    estimates beside them, and the history of the dataset-wide estimate."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=NoiseOutput)
    def get(self, request, slug: str):
        dataset = get_object_or_404(Dataset, slug=slug)
        return Response(NoiseOutput(noise_report(dataset)).data)


class DisputedOutput(serializers.Serializer):
    video = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    topic = serializers.CharField(allow_null=True)
    entropy = serializers.FloatField()
    answers = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    verdict = serializers.CharField(allow_null=True)


class AgreementOutput(serializers.Serializer):
    run = serializers.IntegerField()
    method = serializers.CharField()
    created_at = serializers.DateTimeField()
    kappa = serializers.FloatField(allow_null=True)
    alpha = serializers.FloatField(allow_null=True)
    paired_videos = serializers.IntegerField()
    by_topic = serializers.DictField()
    disputed = DisputedOutput(many=True)


class DatasetAgreement(APIView):
    """The latest aggregation run's agreement and its most disputed videos."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=AgreementOutput)
    def get(self, request, slug: str):
        dataset = get_object_or_404(Dataset, slug=slug)
        run = aggregation_run_latest(dataset=dataset)
        if run is None:
            return Response({"detail": f"dataset {slug} has not been aggregated yet"}, status=404)
        agreement = run.agreement or {}
        data = {
            "run": run.id,
            "method": run.method,
            "created_at": run.created_at,
            "kappa": agreement.get("kappa"),
            "alpha": agreement.get("alpha"),
            "paired_videos": agreement.get("paired_videos", 0),
            "by_topic": agreement.get("by_topic", {}),
            "disputed": disputed_list(run=run),
        }
        return Response(AgreementOutput(data).data)


class VerdictOutput(serializers.ModelSerializer):
    external_id = serializers.CharField(source="video.external_id")
    title = serializers.CharField(source="video.title")

    class Meta:
        model = VideoVerdict
        fields = [
            "video", "external_id", "title", "method", "label", "confidence", "answers_used", "answers",
            "disputed", "from_gold", "run", "updated_at",
        ]  # fmt: skip


class DatasetVerdicts(ListAPIView):
    """Verdicts, paginated (?limit, ?offset); filter with ?method= and ?label=."""

    permission_classes = [IsAdminUser]
    serializer_class = VerdictOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("method", str, enum=AggregationMethod.values),
            OpenApiParameter("label", str, enum=VerdictLabel.values),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        dataset = get_object_or_404(Dataset, slug=self.kwargs["slug"])
        method, label = self.request.query_params.get("method"), self.request.query_params.get("label")
        if method and method not in AggregationMethod.values:
            raise ValidationError(
                {"method": f"unknown method {method!r}; use {', '.join(AggregationMethod.values)}"}
            )
        if label and label not in VerdictLabel.values:
            raise ValidationError({"label": f"unknown label {label!r}; use {', '.join(VerdictLabel.values)}"})
        verdicts = verdict_list(dataset=dataset, method=method)
        return verdicts.filter(label=label) if label else verdicts
