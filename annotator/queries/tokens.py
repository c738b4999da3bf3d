"""The API token's user, its age and the crowdworker check, in one statement."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import connection
from rest_framework.authtoken.models import Token

from annotator.queries import sql


@dataclass(frozen=True)
class TokenUser:
    """A token's user, whether the token is younger than the cut-off, and whether the user is in
    the group asked about."""

    user: AbstractBaseUser
    fresh: bool
    in_group: bool


@cache
def _token_statement() -> tuple[str, list[str]]:
    user_model = get_user_model()
    concrete = user_model._meta.concrete_fields
    columns = ", ".join(f'u."{field.column}"' for field in concrete)
    membership = user_model._meta.get_field("groups").remote_field.through
    return (
        f"""
        SELECT {columns}, t.created > %s, EXISTS (
            SELECT 1 FROM "{membership._meta.db_table}" ug
            JOIN "{Group._meta.db_table}" g ON g.id = ug.group_id
            WHERE ug.user_id = u.id AND g.name = %s
        )
        FROM "{Token._meta.db_table}" t JOIN "{user_model._meta.db_table}" u ON u.id = t.user_id
        WHERE t.key = %s
        """,
        [field.attname for field in concrete],
    )


def token_user(*, key: str, issued_after: datetime, group: str) -> TokenUser | None:
    """The user of the API token `key` (None: no such token), in one statement with the token's
    age and the user's membership of `group`."""
    statement, fields = _token_statement()
    row = sql(statement, [issued_after, group, key], fetch="one")
    if row is None:
        return None
    *values, fresh, in_group = row
    return TokenUser(get_user_model().from_db(connection.alias, fields, values), fresh, in_group)
