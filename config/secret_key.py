"""The SECRET_KEY when DJANGO_SECRET_KEY is not set: random, made once into a file under
MICROCURATE_VAR_DIR and read back by every later process (web servers, workers, commands), so
signed media links and sessions survive restarts. No Django imports: settings load this.

Before, the default was "insecure-dev-key-" + the checkout's path, and anyone who could guess the
path could sign media links offline (issue 13, item 6)."""

import os
import secrets
from pathlib import Path

# Django's own check (security.W009) wants at least 50 characters and 5 distinct ones.
MIN_LENGTH = 50
MIN_UNIQUE = 5
# Prefixes of keys made up for development, never secret: ours before issue 13, and Django's
# startproject template's.
INSECURE_PREFIXES = ("insecure-dev-key-", "django-insecure")


def secret_key_weakness(key: str) -> str | None:
    """Why `key` must not sign anything in production, or None when it is fit."""
    if key.startswith(INSECURE_PREFIXES):
        return "it is a development default that anyone can reproduce"
    if len(key) < MIN_LENGTH or len(set(key)) < MIN_UNIQUE:
        return f"it is shorter than {MIN_LENGTH} characters or has fewer than {MIN_UNIQUE} distinct ones"
    return None


def secret_key_from_file(path: Path) -> str:
    """The key stored at `path`; made (mode 0600) when there is none. Several processes starting
    at once agree on one key: each writes its own candidate to a private temporary file and links
    it into place, which fails for all but the first; the others read the winner's."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(64) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
    finally:
        candidate.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if secret_key_weakness(key):
        raise ValueError(f"{path} holds an unusable SECRET_KEY; delete the file to make a new one")
    return key
