"""Who may annotate: members of the `crowdworkers` group (staff too, to try the tasks)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from annotator.queries.tokens import token_user

CROWDWORKERS_GROUP = "crowdworkers"


@dataclass(frozen=True)
class CheckedToken:
    """`request.auth` of CrowdworkerTokenAuthentication: the token, and whether its user is in the
    crowdworkers group (looked up with it, so IsCrowdworker asks nothing more)."""

    key: str
    user_id: int
    crowdworker: bool


def is_crowdworker(user, *, in_group: bool | None = None) -> bool:
    """`in_group`: the group membership when already known."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_staff:
        return True
    if in_group is not None:
        return in_group
    return user.groups.filter(name=CROWDWORKERS_GROUP).exists()


class IsCrowdworker(BasePermission):
    message = "Only crowdworkers can take and answer annotation tasks."

    def has_permission(self, request, view) -> bool:
        token = request.auth
        return is_crowdworker(
            request.user, in_group=token.crowdworker if isinstance(token, CheckedToken) else None
        )


def token_issued_after() -> datetime:
    """Tokens made at or before this moment have expired (MICROCURATE_TOKEN_TTL_HOURS; 0: never)."""
    hours = settings.MICROCURATE_TOKEN_TTL_HOURS
    if hours <= 0:
        return datetime.min.replace(tzinfo=UTC)
    return timezone.now() - timedelta(hours=hours)


class CrowdworkerTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with the crowdworker-group check in the same statement: the
    annotation API's every request needs both, and each ORM round trip costs ~1 ms of server CPU,
    a large share of a next + submit cycle (issue 5's benchmark); prepared, like the other
    statements of the cycle (planning this join took longer than running it). Same refusals as
    DRF's, and one more: a token older than MICROCURATE_TOKEN_TTL_HOURS is refused (issue 13:
    tokens never expired), its age checked by the same statement. The default for every API view
    (REST_FRAMEWORK), so the staff endpoints' tokens expire too."""

    def authenticate_credentials(self, key):
        found = token_user(key=key, issued_after=token_issued_after(), group=CROWDWORKERS_GROUP)
        if found is None:
            raise AuthenticationFailed("Invalid token.")
        if not found.fresh:
            raise AuthenticationFailed("This token has expired; ask the project staff for a new one.")
        if not found.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return found.user, CheckedToken(key, found.user.pk, found.in_group)
