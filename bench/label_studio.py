"""Label Studio 1.23, measured on this machine: the reference of the ingest and annotation
benchmarks, taken again whenever the machine's speed is in doubt (`make bench-label-studio`;
not part of `make bench`: it installs Label Studio, about 1 GB, into its own environment).

What it measures, as the issues describe the reference:
- import: 100,000 tasks (the ingest benchmark's manifest, each row a task's data) uploaded as one
  JSON file to `POST /api/projects/<id>/import`; wall time until the response (Label Studio's
  community edition stores the tasks before it answers; the task count is checked) and the
  server's peak RSS, sampled every 50 ms.
- the annotation cycle: `GET /api/projects/<id>/next` + `POST /api/tasks/<id>/annotations/`, at
  the annotation benchmark's client counts for as long, each client its own user and token, on a
  fresh project of 2,000 tasks per level.

The server is what `label-studio start` runs (Django's threaded server, one process) on its own
PostgreSQL database, with version checks and analytics off (no internet here). Each request opens
its own connection: with keep-alive, every request to that server waits ≈ 45 ms on a delayed
TCP acknowledgement, a client artefact. `bench_ingest` and `bench_annotation` report their ratio
to the result of this benchmark beside the issue's numbers.
"""

import http.client
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import bench_annotation, bench_ingest  # noqa: E402 (run directly too)
from bench.procstat import rss_kb, tree_rss_kb, wait_listening  # noqa: E402

VERSION = "1.23.0"
WORK = ROOT / "bench" / "work"
VENV = Path(os.environ.get("BENCH_LABEL_STUDIO_VENV", WORK / "label-studio-venv"))
DATABASE = "bench_label_studio"
PORT = int(os.environ.get("BENCH_LABEL_STUDIO_PORT", 8091))
TOKEN = uuid.uuid4().hex
LABEL_CONFIG = (
    '<View><Text name="t" value="$title"/><Choices name="c" toName="t">'
    '<Choice value="Yes"/><Choice value="No"/></Choices></View>'
)
RESULT = [{"from_name": "c", "to_name": "t", "type": "choices", "value": {"choices": ["Yes"]}}]
ANNOTATION_TASKS = 2_000

# Run in Label Studio's own `manage.py shell`: one annotator per client, in the owner's organisation.
MAKE_USERS = """
from rest_framework.authtoken.models import Token
from users.models import User
owner = User.objects.get(email="owner@bench.invalid")
for n in range({count}):
    user = User.objects.create_user(email=f"annotator{{n}}@bench.invalid", password="bench-password")
    owner.active_organization.add_user(user)
    user.active_organization = owner.active_organization
    user.save(update_fields=["active_organization"])
    print("TOKEN", Token.objects.get_or_create(user=user)[0].key)
"""


def latest() -> dict | None:
    """The last result of this benchmark, with when and how fast the machine was, or None."""
    path = ROOT / "bench" / "results" / "label_studio.json"
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    return {
        "ran_at": result["ran_at"],
        "python_loop_ms_before_after": result["machine"]["python_loop_ms_before_after"],
        "import": result["import"],
        "annotation": result["annotation"],
    }


def _environment() -> dict[str, str]:
    import dj_database_url

    server = dj_database_url.parse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
    return {
        **os.environ,
        "DJANGO_DB": "default",
        "POSTGRE_NAME": DATABASE,
        "POSTGRE_USER": server["USER"],
        "POSTGRE_PASSWORD": server["PASSWORD"],
        "POSTGRE_HOST": server["HOST"],
        "POSTGRE_PORT": str(server["PORT"] or 5432),
        "LABEL_STUDIO_BASE_DATA_DIR": str(WORK / "label-studio-data"),
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "FEATURE_FLAGS_OFFLINE": "true",
        "DJANGO_SETTINGS_MODULE": "core.settings.label_studio",
    }


def _install() -> Path:
    executable = VENV / "bin" / "label-studio"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [VENV / "bin" / "pip", "install", "-q", f"label-studio=={VERSION}"], check=True, timeout=1800
        )
    return executable


def _psql(statement: str) -> None:
    import psycopg

    env = _environment()
    with psycopg.connect(
        host=env["POSTGRE_HOST"], port=env["POSTGRE_PORT"], user=env["POSTGRE_USER"],
        password=env["POSTGRE_PASSWORD"], dbname="postgres", autocommit=True,
    ) as connection:  # fmt: skip
        connection.execute(statement)


def _prepare(executable: Path, users: int) -> list[str]:
    """A fresh database with the owner (API token TOKEN) and `users` annotators; their tokens."""
    _psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    _psql(f"CREATE DATABASE {DATABASE}")
    subprocess.run(
        [executable, "init", "--username", "owner@bench.invalid", "--password", "bench-password",
         "--user-token", TOKEN, "--enable-legacy-api-token"],
        env=_environment(), check=True, capture_output=True,
    )  # fmt: skip
    package = next((VENV / "lib").glob("python3*/site-packages/label_studio"))
    shell = subprocess.run(
        [VENV / "bin" / "python", "manage.py", "shell"],
        input=MAKE_USERS.format(count=users), cwd=package, env=_environment(),
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return [line.split()[1] for line in shell.stdout.splitlines() if line.startswith("TOKEN ")]


def _start(executable: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [executable, "start", "--no-browser", "--port", str(PORT), "--internal-host", "127.0.0.1"],
        env=_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return wait_listening(server, PORT, name="Label Studio", seconds=120)


def _request(method: str, path: str, body: dict | None = None, token: str = TOKEN, upload: bytes = b""):
    """One request on its own connection; `upload` is sent as the multipart file `tasks.json`."""
    headers = {"Authorization": f"Token {token}"}
    if body is not None:
        payload, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    elif upload:
        boundary = uuid.uuid4().hex
        part = 'Content-Disposition: form-data; name="file"; filename="tasks.json"'
        payload = b"".join([
            f"--{boundary}\r\n{part}\r\nContent-Type: application/json\r\n\r\n".encode(),
            upload, f"\r\n--{boundary}--\r\n".encode(),
        ])  # fmt: skip
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    else:
        payload = None
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=3600)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
    return json.loads(raw) if raw else None


def _project(title: str) -> int:
    return _request("POST", "/api/projects/", {"title": title, "label_config": LABEL_CONFIG})["id"]


def _import(project: int, tasks: bytes) -> None:
    _request("POST", f"/api/projects/{project}/import", upload=tasks)


def _tasks(rows: int) -> bytes:
    with open(bench_ingest._manifest(bench_ingest.ROWS)) as manifest:
        lines = list(itertools.islice(manifest, rows))
    return ("[" + ",".join(f'{{"data": {line.strip()}}}' for line in lines) + "]").encode()


def _measure_import(server: subprocess.Popen) -> dict:
    tasks = _tasks(bench_ingest.ROWS)
    project = _project("import")
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(server.pid) + tree_rss_kb(server.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        _import(project, tasks)
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    stored = _request("GET", f"/api/projects/{project}/")["task_number"]
    if stored != bench_ingest.ROWS:
        raise RuntimeError(f"Label Studio stored {stored} of {bench_ingest.ROWS} tasks")
    return {
        "rows": bench_ingest.ROWS,
        "seconds": round(seconds, 2),
        "rows_per_s": round(bench_ingest.ROWS / seconds),
        "peak_rss_mb": round(peak[0] / 1024, 1),
    }


def _measure_cycles(tokens: list[str], tasks: bytes) -> dict:
    project = _project(f"annotation-{len(tokens)}")
    _import(project, tasks)
    latencies, errors, lock = [], [], threading.Lock()
    stop_at = time.monotonic() + bench_annotation.SECONDS

    def client(token: str) -> None:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                task = _request("GET", f"/api/projects/{project}/next", token=token)
                _request(
                    "POST", f"/api/tasks/{task['id']}/annotations/?project={project}",
                    {"result": RESULT, "lead_time": 1.0, "project": project}, token=token,
                )  # fmt: skip
            except (OSError, RuntimeError) as exc:
                with lock:
                    errors.append(repr(exc))
                return
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(tokens)} clients: {errors[:3]}")
    percentile = bench_annotation._percentile
    return {
        "clients": len(tokens),
        "cycles": len(latencies),
        "cycles_per_s": round(len(latencies) / bench_annotation.SECONDS, 2),
        **{f"p{q}_ms": round(percentile(latencies, q) * 1000, 1) for q in (50, 95, 99)},
    }


def run() -> dict:
    executable = _install()
    tokens = _prepare(executable, max(bench_annotation.LEVELS))
    server = _start(executable)
    try:
        imported = _measure_import(server)
        print(f"  import: {json.dumps(imported)}", flush=True)
        tasks = _tasks(ANNOTATION_TASKS)
        levels = {}
        for level in bench_annotation.LEVELS:
            levels[str(level)] = _measure_cycles(tokens[:level], tasks)
            print(f"  {level} clients: {json.dumps(levels[str(level)])}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        _psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    return {
        "benchmark": "label_studio",
        "label_studio": VERSION,
        "server": "label-studio start (Django's threaded server, one process), PostgreSQL",
        "import": imported,
        "annotation": levels,
        "issue_reference": {"ingest": bench_ingest.LABEL_STUDIO, "annotation": bench_annotation.LABEL_STUDIO},
        "summary": {
            "import_rows_per_s": imported["rows_per_s"],
            "import_peak_rss_mb": imported["peak_rss_mb"],
            **{f"cycles_per_s_at_{level}": value["cycles_per_s"] for level, value in levels.items()},
        },
    }
