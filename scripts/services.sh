#!/usr/bin/env bash
# Makes sure Redis (127.0.0.1:6379) answers, and this machine's PostgreSQL (127.0.0.1:5432) too
# when DATABASE_URL names it; starts them if not. Without DATABASE_URL the app starts its own
# embedded PostgreSQL under var/ (config/embedded_db.py), so no server is needed.
set -euo pipefail

local_pg=""
case "${DATABASE_URL:-}" in
  postgres://*@127.0.0.1:5432/* | postgres://*@localhost:5432/* | postgresql://*@127.0.0.1:5432/* | postgresql://*@localhost:5432/*)
    local_pg="${DATABASE_URL##*/}"; local_pg="${local_pg%%\?*}" ;;
esac

if [ -n "$local_pg" ] && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
for _ in $(seq 1 30); do
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 \
    && { [ -z "$local_pg" ] || pg_isready -h 127.0.0.1 -p 5432 -q; }; then
    # The database DATABASE_URL names (a manual run, `make bench`); tests create their own test_ copy.
    if [ -n "$local_pg" ]; then
      psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$local_pg'" | grep -q 1 \
        || createdb -h 127.0.0.1 -U postgres "$local_pg"
    fi
    exit 0
  fi
  sleep 1
done
echo "Redis${local_pg:+ or PostgreSQL} did not come up on 127.0.0.1" >&2
exit 1
