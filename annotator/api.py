"""REST API for crowd annotation: workers take, answer and undo their own tasks; staff create
tasks, watch progress and manage workers. HTTP only: every decision is in the services, and
their refusals become 4xx in config/exception_handlers.py."""

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import selectors
from annotator.conf import ORDERS
from annotator.errors import NotYourAssignment
from annotator.models import Assignment, Task, TaskKind
from annotator.permissions import CrowdworkerTokenAuthentication, IsCrowdworker
from annotator.services.answers import answer_submit, answer_undo
from annotator.services.assignment import assignment_offer
from annotator.services.creation import task_make_gold, tasks_create
from annotator.services.quality import annotator_quality, annotator_set_excluded, annotator_set_paused
from annotator.throttles import SubmitThrottle
from config.json_parser import BoundedJSONParser
from curation.models import ActionKind, Dataset
from curation.selectors_actions import action_json
from curation.services.actions import action_run

# The crowdworker check comes with the token look-up (one statement instead of two); browsers
# sign in with their session, CSRF enforced.
WORKER_AUTHENTICATION = [CrowdworkerTokenAuthentication, SessionAuthentication]


class WorkerView(APIView):
    """A crowdworker endpoint: JSON in and out only (the browsable API's renderer and form parsers
    cost every request of the annotation cycle content negotiation and parser set-up)."""

    authentication_classes = WORKER_AUTHENTICATION
    permission_classes = [IsCrowdworker]
    parser_classes = [BoundedJSONParser]  # capped size and depth, like every API view's
    renderer_classes = [JSONRenderer]


class NextInput(serializers.Serializer):
    dataset = serializers.SlugField(required=False)
    kind = serializers.ChoiceField(choices=TaskKind.values, required=False)
    exclude = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=10
    )


class NextTask(WorkerView):
    """Lease the next task (or return one already held that the client has not shown yet).
    No task but videos still being processed: 200 with {"task": null, "preparing": {"videos": N,
    "eta_minutes": M or null}}; 204 when there is no work left at all."""

    @extend_schema(request=NextInput, responses={200: dict, 204: None})
    def post(self, request):
        data = NextInput(data=request.data)
        data.is_valid(raise_exception=True)
        slug = data.validated_data.get("dataset")
        dataset = selectors.dataset_for_work(slug=slug) if slug else None
        if slug and dataset is None:
            raise Http404(f"No dataset {slug!r}.")
        offer = assignment_offer(
            worker=request.user,
            dataset=dataset,
            kind=data.validated_data.get("kind"),
            exclude=data.validated_data["exclude"],
        )
        if offer is None:
            preparing = selectors.work_preparing(dataset=dataset)
            if preparing is None:
                return Response(status=status.HTTP_204_NO_CONTENT)
            return Response({"task": None, "preparing": preparing})
        return Response(
            selectors.assignment_payload(assignment=offer.assignment, user=request.user, shown=offer.shown)
        )


class AssignmentDetail(WorkerView):
    @extend_schema(responses=dict)
    def get(self, request, pk: int):
        assignment = Assignment.objects.filter(id=pk, worker=request.user).first()
        if assignment is None:
            raise NotYourAssignment(f"Assignment {pk} is not leased to you.")
        return Response(selectors.assignment_payload(assignment=assignment, user=request.user))


class AnswerInput(serializers.Serializer):
    choice = serializers.CharField(required=False, allow_blank=True, max_length=20)
    frame = serializers.IntegerField(required=False)
    seconds = serializers.FloatField(required=False, min_value=0, max_value=24 * 3600)


class SubmitAnswer(WorkerView):
    throttle_classes = [SubmitThrottle]

    @extend_schema(request=AnswerInput, responses={201: dict})
    def post(self, request, pk: int):
        data = AnswerInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = answer_submit(
            worker=request.user,
            assignment_id=pk,
            choice=data.validated_data.get("choice"),
            frame_id=data.validated_data.get("frame"),
            seconds=data.validated_data.get("seconds"),
        )
        return Response({"assignment": pk, "answer": answer.id}, status=status.HTTP_201_CREATED)


class UndoAnswer(WorkerView):
    @extend_schema(request=None, responses=dict)
    def post(self, request, pk: int):
        assignment = answer_undo(worker=request.user, assignment_id=pk)
        return Response(selectors.assignment_payload(assignment=assignment, user=request.user))


class MyStats(WorkerView):
    @extend_schema(responses=dict)
    def get(self, request):
        return Response(selectors.worker_stats(worker=request.user))


class CreateTasksInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TaskKind.values)
    limit = serializers.IntegerField(required=False, min_value=1)
    only_split = serializers.CharField(required=False, max_length=50)
    order = serializers.ChoiceField(
        choices=ORDERS,
        required=False,
        help_text="Verification order of this round (default: the dataset's verification_order); "
        "the model orders need a finished model run.",
    )


class DatasetTasks(APIView):
    """Staff: create tasks for a dataset (POST); progress and annotator quality (GET)."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=CreateTasksInput, responses={201: dict})
    def post(self, request, slug: str):
        dataset = get_object_or_404(Dataset, slug=slug)
        data = CreateTasksInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with action_run(
            dataset=dataset, kind=ActionKind.CREATE_TASKS, user=request.user, params=values
        ) as run:
            summary = tasks_create(dataset=dataset, **values)
            run.done(message=str(summary), result=dict(summary.__dict__))
        body = {**summary.__dict__, "message": str(summary), "action": action_json(run.action)}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=dict)
    def get(self, request, slug: str):
        dataset = get_object_or_404(Dataset, slug=slug)
        workers = [
            {**q.__dict__, "gold_accuracy": q.gold_accuracy, "peer_agreement": q.peer_agreement}
            for q in annotator_quality(dataset=dataset)
        ]
        return Response(
            {"dataset": slug, "progress": selectors.dataset_progress(dataset=dataset), "workers": workers}
        )


class WorkerInput(serializers.Serializer):
    paused = serializers.BooleanField(required=False)
    answers_excluded = serializers.BooleanField(required=False)


class WorkerStanding(APIView):
    """Staff: pause a worker, or exclude their answers from verdicts."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=WorkerInput, responses=dict)
    def post(self, request, username: str):
        worker = get_object_or_404(get_user_model(), username=username)
        data = WorkerInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = {"username": username}
        if "paused" in data.validated_data:
            result["paused"] = annotator_set_paused(
                worker=worker, paused=data.validated_data["paused"]
            ).is_paused
        if "answers_excluded" in data.validated_data:
            excluded = data.validated_data["answers_excluded"]
            result["answers_excluded"] = excluded
            result["tasks_recomputed"] = annotator_set_excluded(worker=worker, excluded=excluded)
        return Response(result)


class GoldInput(serializers.Serializer):
    answer = serializers.CharField(max_length=20)


class MakeGold(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=GoldInput, responses=dict)
    def post(self, request, pk: int):
        task = get_object_or_404(Task, id=pk)
        data = GoldInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = task_make_gold(task=task, answer=data.validated_data["answer"])
        return Response({"task": task.id, "is_gold": task.is_gold, "gold_answer": task.gold_answer})
