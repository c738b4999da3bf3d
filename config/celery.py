"""The Celery app. Queues `media` (probe, frames, proxies), `ocr` and `ml` let each stage scale
on machines of its own (`celery -A config worker -Q ocr`); their routes live in settings."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("microcurate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_broker_folders(sender: Celery, **_kwargs) -> None:
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            os.makedirs(options[key], exist_ok=True)


@worker_init.connect
def _refuse_broken_configuration(**_kwargs) -> None:
    """A worker runs the same system checks as the web server: no ffmpeg, no start."""
    from django.core import checks

    errors = [m for m in checks.run_checks() if m.level >= checks.ERROR]
    if errors:
        raise SystemExit("\n".join(str(m) for m in errors))
