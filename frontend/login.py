"""The sign-in forms of the site and the admin, throttled (frontend/login_throttle.py): a refused
attempt never reaches the password check, and the page says why with HTTP 429."""

from functools import wraps

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from frontend.login_throttle import login_failure_record, login_refusal, login_success_record

THROTTLED = "throttled"


def client_address(request) -> str:
    header = settings.MICROCURATE_CLIENT_ADDRESS_HEADER
    if header:
        # A proxy's list ("client, proxy1, …"): the first is the client it saw.
        forwarded = request.headers.get(header, "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR", "")


class ThrottledLoginMixin:
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else ""
        refusal = login_refusal(username=username, address=address)
        if refusal:
            raise ValidationError(refusal, code=THROTTLED)
        try:
            cleaned = super().clean()
        except ValidationError:
            # Counted only when the password was wrong: a right password for an account that may
            # not use this form (a crowdworker at the admin's) is no guess.
            if self.get_user() is None:
                login_failure_record(username=username, address=address)
            raise
        login_success_record(username=username)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


def answer_429_when_throttled(view):
    """A login view whose page answers HTTP 429 when the form was refused by the throttle."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if form is not None and form.is_bound and form.has_error(NON_FIELD_ERRORS, code=THROTTLED):
            response.status_code = 429
        return response

    return wrapped
