"""REST API for split versions (staff only): list, make, read, freeze, compare. A missing
dataset or split answers 404, a refused one 400 (config/exception_handlers.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.api_actions import ActionOutput
from curation.models import ActionKind, Split
from curation.selectors_actions import action_json
from curation.services.actions import action_run
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


class SplitActionOutput(SplitOutput):
    action = ActionOutput()

    class Meta(SplitOutput.Meta):
        fields = [*SplitOutput.Meta.fields, "action"]


def _split_done(run, split: Split, verb: str) -> dict:
    """The split's JSON, also kept as the action's result."""
    body = SplitOutput(split).data
    sizes = ", ".join(f"{name} {n}" for name, n in split.sizes.items())
    run.done(
        message=f"split {split.name} {verb}{f': {sizes}' if sizes else ''}",
        result={**body, "split": split.name},
    )
    return body


class SplitDiffOutput(serializers.Serializer):
    old = serializers.CharField()
    new = serializers.CharField()
    unchanged = serializers.IntegerField()
    added = serializers.DictField(child=serializers.IntegerField())
    removed = serializers.DictField(child=serializers.IntegerField())
    moved = serializers.ListField(child=serializers.DictField())


class SplitListMake(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=SplitOutput(many=True))
    def get(self, request, slug: str):
        dataset = dataset_get(slug=slug)
        return Response(
            SplitOutput(Split.objects.filter(dataset=dataset).select_related("dataset"), many=True).data
        )

    @extend_schema(request=SplitMakeInput, responses={201: SplitActionOutput})
    def post(self, request, slug: str):
        data = SplitMakeInput(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_get(slug=slug)
        values = data.validated_data
        with action_run(dataset=dataset, kind=ActionKind.MAKE_SPLIT, user=request.user, params=values) as run:
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
            body = _split_done(run, split, "frozen" if split.is_frozen else "made")
        return Response({**body, "action": action_json(run.action)}, status=status.HTTP_201_CREATED)


class SplitDetail(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=SplitOutput)
    def get(self, request, slug: str, name: str):
        split = split_get(dataset=dataset_get(slug=slug), name=name)
        return Response(SplitOutput(split).data)


class SplitFreeze(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses=SplitActionOutput)
    def post(self, request, slug: str, name: str):
        dataset = dataset_get(slug=slug)
        params = {"split": name}
        with action_run(
            dataset=dataset, kind=ActionKind.FREEZE_SPLIT, user=request.user, params=params
        ) as run:
            split = split_freeze(split=split_get(dataset=dataset, name=name))
            body = _split_done(run, split, "frozen")
        return Response({**body, "action": action_json(run.action)})


class SplitDiff(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=SplitDiffOutput)
    def get(self, request, slug: str, name: str, other: str):
        dataset = dataset_get(slug=slug)
        old, new = split_get(dataset=dataset, name=name), split_get(dataset=dataset, name=other)
        diff = split_compare(old=old, new=new)
        moved = [{"from": a, "to": b, "count": count} for (a, b), count in sorted(diff.moved.items())]
        body = {"old": name, "new": other, "unchanged": diff.unchanged, "added": diff.added,
                "removed": diff.removed, "moved": moved}  # fmt: skip
        return Response(SplitDiffOutput(body).data)
