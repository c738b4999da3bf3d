"""Without DATABASE_URL the app runs on its own PostgreSQL under var/: no server on the machine
is needed, and none is touched."""

import json
import os
import subprocess
import sys

from config.embedded_db import embedded_database_stop, embedded_database_url
from tests.conftest import ROOT

SHOW_DATABASE = """
import json
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT current_setting('server_version_num')::int, inet_server_addr() IS NULL, "
                   "current_database(), to_regclass('curation_video') IS NOT NULL")
    version, over_socket, name, migrated = cursor.fetchone()
print(json.dumps({"version": version, "over_socket": over_socket, "name": name, "migrated": migrated,
                  "host": connection.settings_dict["HOST"]}))
"""


def _manage(var_dir, *args) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["MICROCURATE_VAR_DIR"] = str(var_dir)
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_without_database_url_the_app_starts_and_migrates_its_own_postgresql(tmp_path):
    var_dir = tmp_path / "var"
    try:
        _manage(var_dir, "migrate", "--no-input", "-v0")
        shown = json.loads(_manage(var_dir, "shell", "-c", SHOW_DATABASE).strip().splitlines()[-1])
    finally:
        stopped = embedded_database_stop(var_dir / "postgres")

    assert shown["version"] >= 180000  # the embedded PostgreSQL 18, not this machine's server
    assert shown["over_socket"]  # a Unix socket: no TCP port is involved
    assert shown["host"].startswith(str(var_dir / "postgres")) or shown["host"].startswith("/tmp")
    assert shown["name"] == "microcurate" and shown["migrated"]
    assert stopped


def test_a_running_embedded_server_is_found_again_and_stops(tmp_path):
    pgdata = tmp_path / "postgres"
    try:
        first = embedded_database_url(pgdata)
        again = embedded_database_url(pgdata)  # found running: the same socket, no second start
        assert again == first
        assert (pgdata / "postmaster.pid").exists()
    finally:
        assert embedded_database_stop(pgdata)
    assert not embedded_database_stop(pgdata)  # nothing left to stop
