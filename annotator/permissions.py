"""Who may annotate: members of the `crowdworkers` group (staff too, to try the tasks)."""

from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from annotator.services.assignment import sql

CROWDWORKERS_GROUP = "crowdworkers"
# Set on the user by CrowdworkerTokenAuthentication: the group check came with the token look-up.
_CHECKED = "_is_crowdworker"


def is_crowdworker(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    known = getattr(user, _CHECKED, None)
    if known is not None:
        return user.is_staff or known
    return user.is_staff or user.groups.filter(name=CROWDWORKERS_GROUP).exists()


class IsCrowdworker(BasePermission):
    message = "Only crowdworkers can take and answer annotation tasks."

    def has_permission(self, request, view) -> bool:
        return is_crowdworker(request.user)


def token_issued_after() -> datetime:
    """Tokens made at or before this moment have expired (MICROCURATE_TOKEN_TTL_HOURS; 0: never)."""
    hours = settings.MICROCURATE_TOKEN_TTL_HOURS
    if hours <= 0:
        return datetime.min.replace(tzinfo=UTC)
    return timezone.now() - timedelta(hours=hours)


@cache
def _token_sql() -> tuple[str, list[str]]:
    user_model = get_user_model()
    concrete = user_model._meta.concrete_fields
    fields = [field.attname for field in concrete]
    columns = ", ".join(f'u."{field.column}"' for field in concrete)
    sql = f"""
        SELECT {columns}, t.created > %s, EXISTS (
            SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
            WHERE ug.user_id = u.id AND g.name = %s
        )
        FROM authtoken_token t JOIN "{user_model._meta.db_table}" u ON u.id = t.user_id
        WHERE t.key = %s
    """
    return sql, fields


class CrowdworkerTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with the crowdworker-group check in the same statement: the
    annotation API's every request needs both, and each ORM round trip costs ~1 ms of server CPU,
    a large share of a next + submit cycle (issue 5's benchmark); prepared, like the other
    statements of the cycle (planning this join took longer than running it). Same refusals as
    DRF's, and one more: a token older than MICROCURATE_TOKEN_TTL_HOURS is refused (issue 13:
    tokens never expired), its age checked by the same statement. The default for every API view
    (REST_FRAMEWORK), so the staff endpoints' tokens expire too."""

    def authenticate_credentials(self, key):
        statement, fields = _token_sql()
        row = sql(statement, [token_issued_after(), CROWDWORKERS_GROUP, key], fetch="one")
        if row is None:
            raise AuthenticationFailed("Invalid token.")
        *values, fresh, crowdworker = row
        if not fresh:
            raise AuthenticationFailed("This token has expired; ask the project staff for a new one.")
        user = get_user_model().from_db(connection.alias, fields, values)
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        setattr(user, _CHECKED, crowdworker)
        return user, Token.from_db(connection.alias, ["key", "user_id"], [key, user.pk])
