"""Who may annotate: members of the `crowdworkers` group (staff too, to try the tasks)."""

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
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


@cache
def _token_sql() -> tuple[str, list[str]]:
    user_model = get_user_model()
    concrete = user_model._meta.concrete_fields
    fields = [field.attname for field in concrete]
    columns = ", ".join(f'u."{field.column}"' for field in concrete)
    sql = f"""
        SELECT {columns}, EXISTS (
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
    DRF's."""

    def authenticate_credentials(self, key):
        statement, fields = _token_sql()
        row = sql(statement, [CROWDWORKERS_GROUP, key], fetch="one")
        if row is None:
            raise AuthenticationFailed("Invalid token.")
        user = get_user_model().from_db(connection.alias, fields, row[:-1])
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        setattr(user, _CHECKED, row[-1])
        return user, Token.from_db(connection.alias, ["key", "user_id"], [key, user.pk])
