#!/usr/bin/env python3
"""Run the real Airflow 3.3 components from this project's .venv, as an operator would on one machine.

    make airflow          # start: metadata on the local PostgreSQL, api-server on :8080, LocalExecutor
    make airflow AIRFLOW_ARGS="--workers 2"   # the CeleryExecutor with two workers on the local Redis
    make airflow-stop     # stop what `make airflow` started (by the pids it recorded)
    make airflow-reset    # stop, then drop the metadata database and the Airflow home

What it sets, and why (each is something the components need and the defaults get wrong here):

- the metadata database on PostgreSQL through psycopg 3: ``SQL_ALCHEMY_CONN`` (``postgresql+psycopg``)
  and ``SQL_ALCHEMY_CONN_ASYNC`` (``postgresql+psycopg_async``); the lock has no asyncpg nor psycopg2;
- the api-server on port 8080 (``--airflow-port``), never 8793, which is the workers' log server;
- the simple auth manager with user ``admin`` and a password kept in
  ``<home>/simple_auth_manager_passwords.json`` (printed at start; not only in a log);
- a JWT secret and a Fernet key of full length, generated once into ``<home>`` (Airflow's own JWT
  secret is shorter than it recommends and warns ``InsecureKeyLengthWarning``);
- with ``--workers N``: the CeleryExecutor, Redis at 127.0.0.1:6379 as the broker (``--broker``), the
  metadata database as Celery's result store, and N ``airflow celery worker`` processes, each in its
  own folder ``<home>/worker-<i>`` with its own ``ALLIANCE_VAR_DIR`` (so no worker can read another's
  disk, as on separate machines) and its own log-server port (8795, 8796, ...: 8793 is the
  scheduler's under the LocalExecutor, 8794 the triggerer's; on one machine they cannot share one);
- DAGs paused at creation: unpausing a force's DAG runs it for the latest night at once (its
  schedule is the nightly cron; that first run is the night being caught up, which is safe: a
  run loads only what is pending).

The components log to ``<home>/logs/<component>.log`` and their pids are in ``<home>/pids/``; `stop`
signals exactly those pids (and their process groups), nothing else. The functions are importable
so tests start and stop the same components.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DEFAULT_HOME = ROOT / "var" / "airflow-local"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/alliance_airflow"
#: with Celery workers (each with a var/ of its own) the warehouse is a database every worker reaches
DEFAULT_WAREHOUSE = "postgresql://postgres@127.0.0.1:5432/alliance_warehouse"


def _secret(path: Path, make) -> str:
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
LOG_SERVER_PORT = 8793


def environment(home: Path, db_url: str, port: int, executor: str = "LocalExecutor",
                extra: dict[str, str] | None = None, broker: str = DEFAULT_BROKER,
                log_port: int = LOG_SERVER_PORT) -> dict[str, str]:
    """The environment every component runs with."""
    from cryptography.fernet import Fernet

    base = db_url.split("://", 1)[1]
    passwords = home / "simple_auth_manager_passwords.json"
    if not passwords.is_file():
        passwords.parent.mkdir(parents=True, exist_ok=True)
        passwords.write_text(json.dumps({"admin": secrets.token_urlsafe(12)}))
        passwords.chmod(0o600)
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg://{base}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"postgresql+psycopg_async://{base}",
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        # the package is installed in the venv; Airflow would import every .py under a plugins folder
        # as a top-level module (plugins/alliance_finance/... would shadow the standard library)
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/London",
        "AIRFLOW__CORE__FERNET_KEY": _secret(home / "fernet.key", lambda: Fernet.generate_key().decode()),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(home / "jwt.secret", lambda: secrets.token_hex(32)),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_port + 1),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
    })
    if executor == "CeleryExecutor":
        env.update({
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg://{base}",
            # a task that outlives the broker's redelivery timeout would run twice
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
        })
    env.update(extra or {})
    return env


def free_port(span: int = 1) -> int:
    """A port p such that p .. p+span-1 are free now."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span < 65535 and all(_port_free(p) for p in range(port, port + span)):
            return port
    raise RuntimeError("no free port")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def create_database(db_url: str) -> None:
    """Create the metadata database when it does not exist (the server's maintenance database is used)."""
    import psycopg

    server, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(db_url: str) -> None:
    import psycopg

    server, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(env: dict[str, str]) -> None:
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _spawn(name: str, command: list[str], env: dict[str, str], home: Path, cwd: Path) -> int:
    """Run ``command`` in a process group of its own, its output appended to <home>/logs/<name>.log;
    returns its pid (also written to <home>/pids/<name>.pid, which ``stop`` reads)."""
    (home / "logs").mkdir(parents=True, exist_ok=True)
    (home / "pids").mkdir(parents=True, exist_ok=True)
    with open(home / "logs" / f"{name}.log", "ab") as log:  # the child keeps its own copy of the handle
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=str(cwd))
    (home / "pids" / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def start_component(name: str, args: list[str], env: dict[str, str], home: Path) -> int:
    """Start one component in its own process group; returns its pid (also written to <home>/pids)."""
    return _spawn(name, [str(VENV_BIN / "airflow"), *args], env, home, cwd=home)


def wait_ready(port: int, timeout: float = 180.0) -> dict:
    """Wait until the api-server answers and reports a healthy scheduler, dag processor and triggerer."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as resp:
                last = json.load(resp)
            if all(last.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "dag_processor", "triggerer")):
                return last
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            pass
        time.sleep(1)
    raise TimeoutError(f"Airflow not healthy on :{port} after {timeout:.0f} s; last health: {last}")


def token(port: int, home: Path) -> str:
    """A JWT for the REST API (POST /auth/token with the simple auth manager's admin password)."""
    password = json.loads((home / "simple_auth_manager_passwords.json").read_text())["admin"]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/auth/token", method="POST",
                                     data=json.dumps({"username": "admin", "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.load(resp)["access_token"]


def api(port: int, home: Path, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/{path.lstrip('/')}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token(port, home)}"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.load(resp)


def stop(home: Path, timeout: float = 30.0) -> list[str]:
    """Stop the components whose pids ``start`` recorded under ``home`` (SIGTERM, then SIGKILL)."""
    stopped = []
    pids_dir = home / "pids"
    for pid_file in sorted(pids_dir.glob("*.pid")) if pids_dir.is_dir() else []:
        pid = int(pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pid_file.unlink()
            continue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.2)
        else:
            with _ignore_missing():
                os.killpg(pid, signal.SIGKILL)
        pid_file.unlink()
        stopped.append(pid_file.stem)
    return stopped


class _ignore_missing:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is ProcessLookupError


def start_worker(index: int, env: dict[str, str], home: Path, queues: str = "default",
                 log_port: int = LOG_SERVER_PORT, isolated: bool = False) -> int:
    """Start Celery worker ``index`` (1, 2, ...) in ``<home>/worker-<index>`` with its own var/ and log port.

    ``isolated``: the worker runs in a mount namespace of its own with a private tmpfs over its var/
    (``unshare -m``, needs root), so what it writes there is invisible to every other process, even
    by absolute path: as on a machine of its own. Without it, workers on one machine can still read
    each other's files when handed an absolute path.
    """
    folder = home / f"worker-{index}"
    (folder / "var").mkdir(parents=True, exist_ok=True)
    worker_env = dict(env, ALLIANCE_VAR_DIR=str(folder / "var"),
                      AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(log_port + 1 + index))
    name = f"worker-{index}"
    command = [str(VENV_BIN / "airflow"), "celery", "worker", "--celery-hostname", f"{name}@%h",
               "--queues", queues, "--concurrency", "2"]
    if isolated:
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs tmpfs "$ALLIANCE_VAR_DIR" && exec "$@"', "worker", *command]
    return _spawn(name, command, worker_env, home, cwd=folder)


def start(home: Path = DEFAULT_HOME, db_url: str = DEFAULT_DB, port: int = 8080,
          executor: str = "LocalExecutor", extra_env: dict[str, str] | None = None, workers: int = 0,
          broker: str = DEFAULT_BROKER, log_port: int = LOG_SERVER_PORT,
          isolated: bool = False) -> dict[str, str]:
    """Create and migrate the metadata database, start the four components (and ``workers`` Celery
    workers, which imply the CeleryExecutor), wait until healthy."""
    if port == 8793:
        raise SystemExit("port 8793 is the workers' log server: give the api-server another port")
    home.mkdir(parents=True, exist_ok=True)
    if any((home / "pids").glob("*.pid")) if (home / "pids").is_dir() else False:
        stop(home)
    if workers:
        executor = "CeleryExecutor"
    env = environment(home, db_url, port, executor, extra_env, broker, log_port)
    create_database(db_url)
    migrate(env)
    for name in COMPONENTS:
        start_component(name, ["api-server", "--port", str(port)] if name == "api-server" else [name], env, home)
    for index in range(1, workers + 1):
        start_worker(index, env, home, log_port=log_port, isolated=isolated)
    wait_ready(port)
    return env


def shared_places(workers: int, sources: Path | None, warehouse: str | None) -> dict[str, str]:
    """What every task must find in the same place whichever worker runs it: the sources, the warehouse
    and (with workers) where the report and Data Docs are published. Without workers the tasks share
    this project's var/ anyway; with workers each has a var/ of its own, as on separate machines."""
    env: dict[str, str] = {}
    if sources is None and not os.environ.get("ALLIANCE_SOURCES_DIR"):
        from alliance_finance import demo  # the demo's sample sources, generated once, reused after

        demo.generate()
        sources = demo.SOURCES
    if sources is not None:
        env["AIRFLOW_VAR_ALLIANCE_SOURCES_DIR"] = str(Path(sources).resolve())
    if warehouse is None and workers:
        warehouse = DEFAULT_WAREHOUSE
        create_database(warehouse)
    if warehouse:
        env["AIRFLOW_CONN_ALLIANCE_WAREHOUSE"] = warehouse
    if workers and not (os.environ.get("ALLIANCE_PUBLISH_BASE") or os.environ.get("AIRFLOW_VAR_ALLIANCE_PUBLISH_BASE")):
        env["AIRFLOW_VAR_ALLIANCE_PUBLISH_BASE"] = (ROOT / "var" / "published").as_uri()
    for name, value in env.items():
        print(f"  {name}={value}")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "reset", "trigger"])
    parser.add_argument("dag_id", nargs="?", help="trigger: the DAG to unpause and trigger")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--db", default=os.environ.get("ALLIANCE_AIRFLOW_DB_URL", DEFAULT_DB),
                        help="metadata database URL (postgresql://...)")
    parser.add_argument("--airflow-port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    parser.add_argument("--workers", type=int, default=0,
                        help="start: run the CeleryExecutor with this many workers (each with its own var/)")
    parser.add_argument("--broker", default=os.environ.get("ALLIANCE_CELERY_BROKER", DEFAULT_BROKER),
                        help="start --workers: the Celery broker URL (Redis)")
    parser.add_argument("--sources", type=Path, default=None,
                        help="start: the sources folder every task reads (default ALLIANCE_SOURCES_DIR, else the "
                             "demo's var/sources, generated as `make demo` does when missing)")
    parser.add_argument("--warehouse", default=os.environ.get("ALLIANCE_WAREHOUSE_URL"),
                        help="start: the warehouse URL (default ALLIANCE_WAREHOUSE_URL; else with --workers the "
                             "PostgreSQL database alliance_warehouse, created when missing; else var/warehouse.db)")
    parser.add_argument("--isolate-workers", action="store_true",
                        help="start --workers: each worker's var/ on a private tmpfs in its own mount namespace "
                             "(unshare -m, root only), as if on separate machines")
    args = parser.parse_args(argv)
    if args.command == "stop":
        print("stopped:", ", ".join(stop(args.home)) or "nothing was running")
        return 0
    if args.command == "reset":
        stop(args.home)
        drop_database(args.db)
        if not args.warehouse:  # the warehouse `start --workers` created, if any
            drop_database(DEFAULT_WAREHOUSE)
        import shutil

        shutil.rmtree(args.home, ignore_errors=True)
        print(f"dropped {args.db.rsplit('/', 1)[1]}{'' if args.warehouse else ', ' + DEFAULT_WAREHOUSE.rsplit('/', 1)[1]}"
              f" and {args.home}")
        return 0
    if args.command == "trigger":
        if not args.dag_id:
            parser.error("trigger needs a DAG id")
        api(args.airflow_port, args.home, "PATCH", f"dags/{args.dag_id}", {"is_paused": False})
        run = api(args.airflow_port, args.home, "POST", f"dags/{args.dag_id}/dagRuns", {"logical_date": None})
        print(f"triggered {args.dag_id}: run {run['dag_run_id']}")
        return 0
    extra = shared_places(args.workers, args.sources, args.warehouse)
    start(args.home, args.db, args.airflow_port, extra_env=extra, workers=args.workers, broker=args.broker,
          isolated=args.isolate_workers)
    password = json.loads((args.home / "simple_auth_manager_passwords.json").read_text())["admin"]
    print(f"Airflow is up: http://127.0.0.1:{args.airflow_port}  (user admin, password {password})\n"
          f"logs in {args.home / 'logs'}; the DAGs start paused; `make airflow-stop` stops it"
          + (f"\n{args.workers} Celery workers on {args.broker}, each with its own var/ under {args.home}"
             if args.workers else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
