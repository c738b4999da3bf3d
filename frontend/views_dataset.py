"""The staff dataset page (issue 18): a shell whose ES module fills every section from the
dashboard's JSON endpoints and calls the action endpoints. The page holds no numbers itself, so
what it shows is what the REST API answers."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

from annotator.conf import ORDERS
from curation.models import Dataset, ExportFormat

# Polling intervals (ms): idle, and while an action runs or the pipeline has work left. A test can
# shorten them with ?poll=<ms>; the bounds keep a typo from hammering the server.
POLL_MS = 10_000
POLL_BUSY_MS = 2_000
POLL_BOUNDS_MS = (200, 600_000)


def staff_required(view):
    """Anonymous visitors go to the login page; a signed-in user who is not staff (a crowdworker)
    gets 403 rather than a login loop."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("Only staff can open a dataset's page.")
        return view(request, *args, **kwargs)

    return wrapped


def _poll_ms(value: str | None) -> tuple[int, int]:
    try:
        asked = int(value or "")
    except ValueError:
        return POLL_MS, POLL_BUSY_MS
    low, high = POLL_BOUNDS_MS
    asked = min(max(asked, low), high)
    return asked, min(asked, POLL_BUSY_MS)


@staff_required
def dataset_page(request, slug: str):
    dataset = get_object_or_404(Dataset, slug=slug)
    poll_ms, poll_busy_ms = _poll_ms(request.GET.get("poll"))
    context = {
        "dataset": dataset,
        "poll_ms": poll_ms,
        "poll_busy_ms": poll_busy_ms,
        "models_enabled": settings.MICROCURATE_MODELS_ENABLED,
        "export_formats": ExportFormat.choices,
        "task_orders": ORDERS,
    }
    return render(request, "frontend/dataset.html", context)
