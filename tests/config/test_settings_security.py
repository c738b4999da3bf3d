"""The SECRET_KEY and the production profile (issue 13, items 6 and 8). Before, the default key
was "insecure-dev-key-" + the checkout's path: anyone who guessed the path could sign media links.
Settings are loaded in fresh processes, as a server or worker would load them."""

import os
import secrets
import stat
import subprocess
import sys

import pytest
from django.conf import settings

from config.secret_key import secret_key_from_file
from tests.conftest import ROOT
from tests.processes import database_url

OLD_DEFAULT = "insecure-dev-key-" + str(ROOT)
PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def run_settings(code: str, var_dir, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MICROCURATE_PROFILE"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", MICROCURATE_VAR_DIR=str(var_dir))
    env["DATABASE_URL"] = database_url()  # never the embedded server of a fresh var folder
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_without_a_key_one_is_made_random_into_the_var_folder_readable_by_its_owner_only(tmp_path):
    key = secret_key_from_file(tmp_path / "var" / "secret_key")

    mode = stat.S_IMODE((tmp_path / "var" / "secret_key").stat().st_mode)
    assert len(key) >= 50 and str(ROOT) not in key and not key.startswith("insecure")
    assert mode == 0o600
    assert secret_key_from_file(tmp_path / "other" / "secret_key") != key


def test_the_running_settings_key_is_not_derivable_from_the_path():
    assert settings.SECRET_KEY != OLD_DEFAULT and str(ROOT) not in settings.SECRET_KEY


def test_two_settings_loads_reuse_the_key_in_the_var_folder(tmp_path):
    first = run_settings(PRINT_KEY, tmp_path)
    second = run_settings(PRINT_KEY, tmp_path)

    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.strip() == second.stdout.strip() == (tmp_path / "secret_key").read_text().strip()
    assert first.stdout.strip() != OLD_DEFAULT


def test_a_key_set_in_the_environment_is_used_and_nothing_is_written(tmp_path):
    chosen = secrets.token_urlsafe(50)

    loaded = run_settings(PRINT_KEY, tmp_path, DJANGO_SECRET_KEY=chosen)

    assert loaded.stdout.strip() == chosen and not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "must be set"),
        (OLD_DEFAULT, "development default"),
        ("django-insecure-" + "x" * 60, "development default"),
        ("short-key", "shorter than 50"),
        ("ab" * 40, "fewer than 5 distinct"),
    ],
)
def test_the_production_profile_refuses_a_missing_default_or_weak_key(tmp_path, key, reason):
    loaded = run_settings(PRINT_KEY, tmp_path, MICROCURATE_PROFILE="production", DJANGO_SECRET_KEY=key)

    assert loaded.returncode != 0 and reason in loaded.stderr
    assert not (tmp_path / "secret_key").exists()


def test_the_production_profile_refuses_debug(tmp_path):
    loaded = run_settings(
        PRINT_KEY, tmp_path, MICROCURATE_PROFILE="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="1",
    )  # fmt: skip

    assert loaded.returncode != 0 and "DJANGO_DEBUG must be off" in loaded.stderr


def test_check_deploy_is_clean_with_the_production_profile(tmp_path):
    env = {
        "MICROCURATE_PROFILE": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "curate.example.org",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    }
    code = (
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
    )

    checked = run_settings(code, tmp_path, **env)

    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "System check identified no issues" in checked.stdout
    assert "WARNINGS" not in checked.stderr + checked.stdout


def test_the_production_profile_turns_on_https_settings(tmp_path):
    show = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)"
    )
    production = run_settings(
        show, tmp_path, MICROCURATE_PROFILE="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )  # fmt: skip
    development = run_settings(show, tmp_path)

    assert production.stdout.split() == [
        "True", "True", "True", "31536000", "('HTTP_X_FORWARDED_PROTO',", "'https')",
    ]  # fmt: skip
    assert development.stdout.split() == ["False", "False", "False", "0", "None"]
