# The Celery app (config/celery.py) is imported by the task module that sends work through it
# (curation/tasks.py) and found by `celery -A config`; not here, so that commands which queue
# nothing (ingest --pipeline none, migrate) start without loading Celery (≈ 0.2 s).
