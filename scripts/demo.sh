#!/usr/bin/env bash
# `make demo`: migrate, create users and the sample dataset, start a Celery worker (with beat) on
# the zero-setup filesystem broker, and serve the site on 127.0.0.1:8000 (DEMO_PORT to change it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
REAL_CLIPS="$(realpath ../shared/data/videos 2>/dev/null || true)"
if [ -n "$REAL_CLIPS" ] && [ -d "$REAL_CLIPS" ]; then
  export MICROCURATE_MEDIA_ROOTS="${MICROCURATE_MEDIA_ROOTS:+$MICROCURATE_MEDIA_ROOTS:}$REAL_CLIPS"
fi
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
PORT="${DEMO_PORT:-8000}"

$PY manage.py migrate --no-input -v0
$PY manage.py collectstatic --no-input -v0
# -B: the worker also runs Celery beat, which sends the sweeper that re-queues stages whose
# worker died (one beat per deployment; a bigger one runs `celery -A config beat` on its own).
# The filesystem broker gives each media stage its own queue (config/settings.py), taken in stage
# order, so each video flows through its stages and its tasks come as soon as its proxy is made.
$PY -m celery -A config worker -B -Q media,media-audio,media-frames,media-proxy,ocr,ml \
  --concurrency 1 --loglevel WARNING \
  --without-gossip --without-mingle &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT
$PY manage.py demo_setup ${REAL_CLIPS:+--real-clips "$REAL_CLIPS"}
# As videos come out of the pipeline: their thumbnail tasks, a simulated annotation round (four
# simulated crowdworkers answer part of the tasks; the rest is left for worker1 and worker2), an
# aggregation every minute, and once the pipeline is done a frozen split and a training.
$PY manage.py demo_round --follow &
FOLLOWER=$!
trap 'kill $WORKER $FOLLOWER 2>/dev/null || true' EXIT
cat <<MSG

MicroCurate is starting on http://127.0.0.1:$PORT/
  the dataset: http://127.0.0.1:$PORT/datasets/usv-demo/  (log in as curator: its pipeline,
               annotation, label quality, thumbnails, frames and models, filling in as it runs)
  home:        http://127.0.0.1:$PORT/          (the datasets)
  admin:       http://127.0.0.1:$PORT/admin/    (videos with their probe results)
  API docs:    http://127.0.0.1:$PORT/api/docs/
The Celery worker runs the sample videos through the pipeline in the background; simulated
crowdworkers answer part of the tasks as videos become ready (worker1 and worker2 get the rest).
Ctrl-C stops everything.
MSG
$PY manage.py runserver 127.0.0.1:$PORT --noreload
