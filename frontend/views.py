"""Pages only: each view renders what a selector returns."""

from django.contrib.auth.decorators import login_required, user_passes_test
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from annotator import selectors as annotation
from annotator.models import TaskKind
from annotator.permissions import is_crowdworker
from annotator.services.quality import annotator_quality
from curation import selectors
from curation.api import DatasetCreateInput
from curation.models import Dataset
from curation.selectors_labels import verdict_counts


@login_required
def home(request):
    """Staff land on the dashboard; crowdworkers go straight into work."""
    if request.user.is_staff:
        datasets = list(selectors.dataset_list())
        rows = [(d, selectors.dataset_pipeline_counts(dataset=d)) for d in datasets]
        taxonomies = list(DatasetCreateInput().fields["taxonomy"].choices.items())
        return render(request, "frontend/dashboard.html", {"rows": rows, "taxonomies": taxonomies})
    if is_crowdworker(request.user):
        return work(request)
    return render(request, "frontend/worker_home.html")


@login_required
def work(request):
    """The keyboard-first task page; the ES module fetches tasks from the API."""
    if not is_crowdworker(request.user):
        raise PermissionDenied("Only crowdworkers can take annotation tasks.")
    kind = request.GET.get("kind", "")
    context = {
        "dataset": request.GET.get("dataset", ""),
        "kind": kind if kind in TaskKind.values else "",
        "stats": annotation.worker_stats(worker=request.user),
    }
    return render(request, "frontend/annotate.html", context)


@user_passes_test(lambda user: user.is_active and user.is_staff)
def progress(request):
    """Per dataset and kind: answers in / needed, verdicts, agreement; workers and flags."""
    rows = []
    for dataset in Dataset.objects.order_by("slug"):
        kinds = annotation.dataset_progress(dataset=dataset)
        if kinds:
            rows.append(
                {
                    "dataset": dataset,
                    "kinds": kinds,
                    "verdicts": verdict_counts(dataset=dataset),
                    "workers": annotator_quality(dataset=dataset),
                }
            )
    return render(request, "frontend/progress.html", {"rows": rows})
