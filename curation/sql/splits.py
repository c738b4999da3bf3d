"""A split's SQL: its members written with one COPY."""

from django.db import connection

from curation.models import SplitMember


def members_copy(*, split_id: int, members: list[tuple[int, str, bool]]) -> None:
    """Store the split's members, (video id, subset, is noise) each."""
    # COPY: a 250,000-video split is one statement instead of fifty batched INSERTs.
    lines = "".join(
        f"{split_id}\t{video_id}\t{subset}\t{'t' if noise else 'f'}\n" for video_id, subset, noise in members
    )
    with connection.cursor() as cursor:
        columns = "split_id, video_id, subset, is_noise"
        with cursor.cursor.copy(f"COPY {SplitMember._meta.db_table} ({columns}) FROM STDIN") as copy:
            copy.write(lines)
