"""REST API for split versions (staff only): list, make, read, freeze, compare."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.errors import CurationError
from curation.models import Split
from curation.services.datasets import dataset_get
from curation.services.splits import split_compare, split_freeze, split_get, split_make


class SplitOutput(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    frozen = serializers.BooleanField(source="is_frozen", read_only=True)

    class Meta:
        model = Split
        fields = ["dataset", "name", "ratios", "seed", "verdict_method", "sizes", "stats", "frozen",
                  "frozen_at", "created_at"]  # fmt: skip


class SplitMakeInput(serializers.Serializer):
    name = serializers.SlugField(max_length=50)
    ratios = serializers.CharField(
        default="0.8,0.1,0.1", help_text="0.8,0.1,0.1 or train=0.8,val=0.1,test=0.1"
    )
    seed = serializers.IntegerField(default=0)
    method = serializers.ChoiceField(
        choices=["usv", "mv", "ds"], required=False, allow_null=True, default=None
    )
    freeze = serializers.BooleanField(default=False)
    replace = serializers.BooleanField(default=False)


class SplitDiffOutput(serializers.Serializer):
    old = serializers.CharField()
    new = serializers.CharField()
    unchanged = serializers.IntegerField()
    added = serializers.DictField(child=serializers.IntegerField())
    removed = serializers.DictField(child=serializers.IntegerField())
    moved = serializers.ListField(child=serializers.DictField())


def refuse(exc: CurationError) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


def missing(exc: CurationError) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)


class SplitListMake(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=SplitOutput(many=True))
    def get(self, request, slug: str):
        try:
            dataset = dataset_get(slug=slug)
        except CurationError as exc:
            return missing(exc)
        return Response(
            SplitOutput(Split.objects.filter(dataset=dataset).select_related("dataset"), many=True).data
        )

    @extend_schema(request=SplitMakeInput, responses={201: SplitOutput})
    def post(self, request, slug: str):
        data = SplitMakeInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            dataset = dataset_get(slug=slug)
        except CurationError as exc:
            return missing(exc)
        values = data.validated_data
        try:
            split = split_make(
                dataset=dataset,
                name=values["name"],
                ratios=values["ratios"],
                seed=values["seed"],
                verdict_method=values["method"],
                freeze=values["freeze"],
                replace=values["replace"],
                user=request.user,
            )
        except CurationError as exc:
            return refuse(exc)
        return Response(SplitOutput(split).data, status=status.HTTP_201_CREATED)


class SplitDetail(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=SplitOutput)
    def get(self, request, slug: str, name: str):
        try:
            split = split_get(dataset=dataset_get(slug=slug), name=name)
        except CurationError as exc:
            return missing(exc)
        return Response(SplitOutput(split).data)


class SplitFreeze(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses=SplitOutput)
    def post(self, request, slug: str, name: str):
        try:
            split = split_get(dataset=dataset_get(slug=slug), name=name)
        except CurationError as exc:
            return missing(exc)
        try:
            split = split_freeze(split=split)
        except CurationError as exc:
            return refuse(exc)
        return Response(SplitOutput(split).data)


class SplitDiff(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=SplitDiffOutput)
    def get(self, request, slug: str, name: str, other: str):
        try:
            dataset = dataset_get(slug=slug)
            old, new = split_get(dataset=dataset, name=name), split_get(dataset=dataset, name=other)
        except CurationError as exc:
            return missing(exc)
        diff = split_compare(old=old, new=new)
        moved = [{"from": a, "to": b, "count": count} for (a, b), count in sorted(diff.moved.items())]
        body = {"old": name, "new": other, "unchanged": diff.unchanged, "added": diff.added,
                "removed": diff.removed, "moved": moved}  # fmt: skip
        return Response(SplitDiffOutput(body).data)


urlpatterns = [
    path("datasets/<slug:slug>/splits/", SplitListMake.as_view(), name="split-list"),
    path("datasets/<slug:slug>/splits/<slug:name>/", SplitDetail.as_view(), name="split-detail"),
    path("datasets/<slug:slug>/splits/<slug:name>/freeze/", SplitFreeze.as_view(), name="split-freeze"),
    path(
        "datasets/<slug:slug>/splits/<slug:name>/diff/<slug:other>/", SplitDiff.as_view(), name="split-diff"
    ),
]
