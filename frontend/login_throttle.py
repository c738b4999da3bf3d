"""Password guessing: failed sign-ins are counted per username and per client address in Django's
cache, and once either count reaches its limit within the window, sign-ins for that username or
from that address are refused, the right password included, until the window ends (issue 13:
100 wrong passwords then the right one used to be accepted).

A fixed window starting at the first failure: the count's cache entry expires with it. With
CACHE_URL (Redis) every server process shares the counts, as with the submit throttle.

A success clears its username's count only: clearing the address's would let someone with an
account of their own reset it between guesses at other accounts."""

import hashlib

from django.conf import settings
from django.core.cache import cache

USERNAME_REFUSED = "Too many failed sign-ins for this account. Try again in {minutes} minutes."
ADDRESS_REFUSED = "Too many failed sign-ins from your address. Try again in {minutes} minutes."


def _username_key(username: str) -> str:
    # Hashed: usernames may hold characters or lengths a cache key must not.
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"login-failures:user:{digest}"


def _address_key(address: str) -> str:
    return f"login-failures:address:{hashlib.sha256(address.encode()).hexdigest()[:32]}"


def _minutes() -> int:
    return max(1, -(-settings.MICROCURATE_LOGIN_WINDOW_SECONDS // 60))


def login_refusal(*, username: str, address: str) -> str | None:
    """Why a sign-in for `username` from `address` is refused now, or None when it may be tried."""
    counts = cache.get_many([_username_key(username), _address_key(address)])
    if counts.get(_username_key(username), 0) >= settings.MICROCURATE_LOGIN_MAX_FAILURES:
        return USERNAME_REFUSED.format(minutes=_minutes())
    if counts.get(_address_key(address), 0) >= settings.MICROCURATE_LOGIN_MAX_FAILURES_PER_ADDRESS:
        return ADDRESS_REFUSED.format(minutes=_minutes())
    return None


def login_failure_record(*, username: str, address: str) -> None:
    for key in (_username_key(username), _address_key(address)):
        _count(key)


def login_success_record(*, username: str) -> None:
    cache.delete(_username_key(username))


def _count(key: str) -> int:
    window = settings.MICROCURATE_LOGIN_WINDOW_SECONDS
    cache.add(key, 0, timeout=window)  # starts the window; a no-op while one runs
    try:
        return cache.incr(key)  # atomic in Redis, and keeps the entry's expiry
    except ValueError:  # the window ended between the two calls
        cache.add(key, 1, timeout=window)
        return 1
