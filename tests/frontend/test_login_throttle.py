"""Password guessing at the two sign-in pages (issue 13, item 5): after too many failures for an
account or from an address, further attempts are refused, the right password included, with
HTTP 429 and a reason, until the window ends. Counts live in the cache (Redis when CACHE_URL is
set), so every server process sees them."""

import time
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def _fresh_counts(settings):
    # Django's default hasher costs ~0.3 s a password here: hundreds of guesses would take minutes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def sign_in(client: Client, username: str, password: str, *, url: str = LOGIN, address: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in_as(client: Client) -> str | None:
    response = client.get("/api/v1/annotation/me/")
    return None if response.status_code != 200 else client.session.get("_auth_user_id")


def guess(username: str, times: int, *, url: str = LOGIN, address: str = "10.0.0.1") -> None:
    attacker = Client()
    for attempt in range(times):
        sign_in(attacker, username, f"wrong-{attempt}", url=url, address=address)


def test_after_100_wrong_passwords_the_right_one_is_refused_with_429(worker1):
    guess("worker1", 100)

    client = Client()
    response = sign_in(client, "worker1", "pw-worker1")

    assert response.status_code == 429
    assert b"Too many failed sign-ins for this account" in response.content
    assert signed_in_as(client) is None


def test_the_admin_login_refuses_the_right_password_after_100_guesses(curator):
    guess("curator", 100, url=ADMIN_LOGIN)

    client = Client()
    response = sign_in(client, "curator", "pw-curator", url=ADMIN_LOGIN)

    assert response.status_code == 429 and b"Too many failed sign-ins" in response.content
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_guesses_at_one_page_lock_the_account_at_the_other_too(curator):
    guess("curator", settings.MICROCURATE_LOGIN_MAX_FAILURES, url=ADMIN_LOGIN)

    assert sign_in(Client(), "curator", "pw-curator").status_code == 429


def test_another_account_from_another_address_still_signs_in(worker1, worker2):
    guess("worker1", 100, address="10.0.0.1")

    client = Client()
    response = sign_in(client, "worker2", "pw-worker2", address="10.0.0.2")

    assert response.status_code == 302 and signed_in_as(client) == str(worker2.pk)


def test_the_locked_account_signs_in_from_nowhere_until_the_window_ends(worker1):
    guess("worker1", 100, address="10.0.0.1")

    response = sign_in(Client(), "worker1", "pw-worker1", address="192.0.2.7")

    assert response.status_code == 429


def test_an_address_guessing_at_many_accounts_is_refused_for_every_account(worker2):
    for number in range(settings.MICROCURATE_LOGIN_MAX_FAILURES_PER_ADDRESS):
        guess(f"someone{number}", 1, address="10.0.0.9")

    from_there = sign_in(Client(), "worker2", "pw-worker2", address="10.0.0.9")
    elsewhere = Client()
    from_elsewhere = sign_in(elsewhere, "worker2", "pw-worker2", address="10.0.0.2")

    assert from_there.status_code == 429 and b"from your address" in from_there.content
    assert from_elsewhere.status_code == 302 and signed_in_as(elsewhere) == str(worker2.pk)


def test_after_the_window_the_right_password_works_again(settings, worker1):
    settings.MICROCURATE_LOGIN_WINDOW_SECONDS = 1
    guess("worker1", settings.MICROCURATE_LOGIN_MAX_FAILURES)
    assert sign_in(Client(), "worker1", "pw-worker1").status_code == 429

    time.sleep(1.2)
    client = Client()
    response = sign_in(client, "worker1", "pw-worker1")

    assert response.status_code == 302 and signed_in_as(client) == str(worker1.pk)


def test_a_few_typos_then_the_right_password_sign_in_and_reset_the_count(worker1):
    guess("worker1", settings.MICROCURATE_LOGIN_MAX_FAILURES - 1)
    assert sign_in(Client(), "worker1", "pw-worker1").status_code == 302

    guess("worker1", settings.MICROCURATE_LOGIN_MAX_FAILURES - 1)
    client = Client()

    assert sign_in(client, "worker1", "pw-worker1").status_code == 302
    assert signed_in_as(client) == str(worker1.pk)


def test_a_crowdworker_with_the_right_password_at_the_admin_login_is_not_counted(worker1):
    for _ in range(settings.MICROCURATE_LOGIN_MAX_FAILURES + 1):
        refused = sign_in(Client(), "worker1", "pw-worker1", url=ADMIN_LOGIN)
        assert refused.status_code == 200  # the admin's own "not staff" refusal

    assert sign_in(Client(), "worker1", "pw-worker1").status_code == 302


def test_with_redis_the_counts_live_there_for_every_process_and_expire_with_the_window(settings, worker1):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs a Redis server (CELERY_BROKER_URL=redis://…)")
    import redis

    prefix = f"test-login-{uuid.uuid4().hex}"
    server = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    redis_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": settings.CELERY_BROKER_URL,
        "KEY_PREFIX": prefix,  # this test's keys only: the database is the broker's, never flushed
    }
    try:
        with override_settings(CACHES={"default": redis_cache}, MICROCURATE_LOGIN_WINDOW_SECONDS=1):
            guess("worker1", settings.MICROCURATE_LOGIN_MAX_FAILURES)
            stored = server.keys(f"{prefix}:*login-failures*")
            refused = sign_in(Client(), "worker1", "pw-worker1")
            time.sleep(1.2)
            accepted = sign_in(Client(), "worker1", "pw-worker1")
    finally:
        for key in server.keys(f"{prefix}:*"):
            server.delete(key)

    assert len(stored) == 2  # the account's count and the address's
    assert (refused.status_code, accepted.status_code) == (429, 302)
