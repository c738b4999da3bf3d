"""The staff quality page: noise estimates with intervals, agreement, disputed videos."""

from django.contrib.auth.decorators import user_passes_test
from django.shortcuts import render

from curation.models import Dataset
from curation.selectors_labels import quality_overview


@user_passes_test(lambda user: user.is_active and user.is_staff)
def quality(request):
    datasets = Dataset.objects.order_by("slug")
    if request.GET.get("dataset"):
        datasets = datasets.filter(slug=request.GET["dataset"])
    rows = [row for row in (quality_overview(dataset=d) for d in datasets) if row is not None]
    return render(request, "frontend/quality.html", {"rows": rows})
