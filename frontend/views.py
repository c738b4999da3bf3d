"""Pages only: each view renders what a selector returns."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from curation import selectors


@login_required
def home(request):
    if not request.user.is_staff:
        return render(request, "frontend/worker_home.html")
    datasets = list(selectors.dataset_list())
    rows = [(d, selectors.dataset_pipeline_counts(dataset=d)) for d in datasets]
    return render(request, "frontend/dashboard.html", {"rows": rows})
