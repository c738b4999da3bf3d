from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class SubmitThrottle(UserRateThrottle):
    """Answers per worker; the rate is read at request time (MICROCURATE_SUBMIT_RATE)."""

    scope = "annotation-submit"

    def get_rate(self) -> str:
        return settings.MICROCURATE_SUBMIT_RATE
