"""What a test needs to start another process (a Celery worker, gunicorn) on its database."""

from urllib.parse import quote

from django.conf import settings


def database_url(db: dict | None = None) -> str:
    """A DATABASE_URL that reaches `db` (default: the test database) from another process: a
    TCP server, or the embedded server's socket folder (percent-encoded, as dj-database-url
    reads it)."""
    db = db or settings.DATABASES["default"]
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{db['USER']}@{host}{port}/{db['NAME']}"
