"""Faults: runs killed at every phase, a warehouse or a source cut mid-run, concurrent runs, reruns.

Each guarantee is driven through the real command (``alliance-finance run`` in a subprocess) or the
real pipeline functions, into a real PostgreSQL (conftest), on sources the project's own generator
writes (FY 2014 at scale 0.1: 29 ASC business days around the re-delivered 15 September, and the
whole Wiltshire year, 13 period extracts). After every fault the warehouse must pass
``checksums.row_accounting_problems`` (every batch fully in or fully out, every line read accounted
for), and the run that follows must converge to exactly the warehouse a clean run makes
(``checksums.fact_checksum`` and ``checksums.batch_ledger``).

Kill trials stop the run at a named phase with the ``ALLIANCE_FAULT_PAUSE`` hook
(``alliance_finance.core.faults``) and SIGKILL it there, or at a random moment after a phase began.
Most trials run the real CLI with the readers' checks only as validator (a one-line wrapper,
:data:`READERS_ONLY_CLI`) to keep the suite fast; one chain runs the real Great Expectations
validation and is killed inside it. docs/reliability.md records the figures.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from alliance_finance.runner import pipeline
from alliance_finance.warehouse.engine import make_engine
from checksums import assert_sound, batch_ledger, fact_checksum, row_accounting_problems
from conftest import drop_pg_database, new_pg_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

#: the seed of every random choice here; a failure names it, and rerunning with it repeats the trial
SEED = int(os.environ.get("ALLIANCE_RELIABILITY_SEED", "20140915"))

#: ``alliance-finance run`` exactly, with the readers' checks standing in for Great Expectations
READERS_ONLY_CLI = textwrap.dedent("""
    import sys
    from alliance_finance.runner import validators
    class ReadersOnly:
        def validate(self, batches):
            return [None for _ in batches]

    validators.default_validator = lambda url, var_dir=None, settings=None: ReadersOnly()
    from alliance_finance.cli import main
    sys.exit(main(sys.argv[1:]))
""")

ALLIANCE_FINANCE = str(Path(sys.executable).with_name("alliance-finance"))


class ReadersOnly:
    """In-process stand-in for Great Expectations (the faults here do not depend on validation)."""

    def validate(self, batches):
        return [None for _ in batches]


# -- sources and the clean reference ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """Generated sources, ASC cut to the 29 business days (31 deliveries) from 1 September to 10 October 2014."""
    from alliance_sample import generate_sources

    generated = tmp_path_factory.mktemp("generated")
    generate_sources(generated, from_fy=2014, to_fy=2014, scale=Decimal("0.1"), seed=7)
    root = tmp_path_factory.mktemp("sources")
    inbound = root / "avon_somerset" / "inbound"
    inbound.mkdir(parents=True)
    for path in sorted((generated / "avon_somerset" / "inbound").iterdir()):
        if "20140901" <= path.name[7:15] <= "20141010":
            shutil.copy2(path, inbound / path.name)
    (root / "wiltshire").mkdir()
    shutil.copy2(generated / "wiltshire" / "erp.db", root / "wiltshire" / "erp.db")
    return root


@dataclasses.dataclass
class Reference:
    checksum: object
    ledger: list
    asc_deliveries: int
    wp_batches: int
    #: the checksum without WP's batch names (which follow how journals were grouped into runs)
    checksum_asc_refs: object = None


@pytest.fixture(scope="module")
def reference(sources, tmp_path_factory) -> Reference:
    """What one clean ``alliance-finance run`` makes of the sources."""
    url = new_pg_database()
    try:
        run = cli_run(sources, url, tmp_path_factory.mktemp("clean"))
        assert run.returncode == 0, run.stderr[-3000:]
        engine = make_engine(url)
        try:
            assert_sound(engine, "clean run")
            ledger = batch_ledger(engine)
            ref = Reference(fact_checksum(engine), ledger, sum(1 for b in ledger if b[0] == "ASC"),
                            sum(1 for b in ledger if b[0] == "WP"), fact_checksum(engine, source_ref_forces=("ASC",)))
        finally:
            engine.dispose()
    finally:
        drop_pg_database(url)
    assert ref.checksum.lines > 7000 and ref.checksum.net_pence == 0
    assert ref.asc_deliveries == 31 and ref.wp_batches == 13
    assert any(b[2] == "superseded" for b in ref.ledger)
    return ref


# -- running the command ---------------------------------------------------------------------------


def _command(real_gx: bool) -> list[str]:
    return [ALLIANCE_FINANCE] if real_gx else [sys.executable, "-c", READERS_ONLY_CLI]


def _env(workdir: Path, pause: str | None = None, pause_seconds: float = 30) -> dict:
    env = dict(os.environ, ALLIANCE_VAR_DIR=str(workdir / "var"), PYTHONUNBUFFERED="1")
    env.pop("ALLIANCE_FAULT_PAUSE", None)
    if pause:
        env["ALLIANCE_FAULT_PAUSE"] = pause
        env["ALLIANCE_FAULT_PAUSE_SECONDS"] = str(pause_seconds)
    return env


def cli_run(sources: Path, url: str, workdir: Path, *, real_gx: bool = False, extra: tuple = (),
            timeout: float = 300) -> subprocess.CompletedProcess:
    """One whole ``alliance-finance run`` in a fresh interpreter, to its end."""
    return subprocess.run(_command(real_gx) + ["run", "--sources", str(sources), "--warehouse", url, *extra],
                          env=_env(workdir), capture_output=True, text=True, timeout=timeout)


#: A fork server: imports the package and its heavy libraries once, then forks one child per run
#: request, which sets its environment (the fault hook included), runs ``cli.main(argv)`` and exits
#: with its status. The children are ordinary processes with their own database connections; the
#: test SIGKILLs them. Importing pandas, pyarrow and SQLAlchemy costs 3-5 s a process on this shared
#: machine, which 20+ kill trials would otherwise pay each.
FORK_SERVER = textwrap.dedent("""
    import importlib, json, os, sys, traceback
    import pandas, pyarrow, pyarrow.compute, pyarrow.csv, psycopg, sqlalchemy
    from alliance_finance import cli
    from alliance_finance.runner import validators
    from alliance_finance.sources import erp_sql
    from alliance_finance.sources import sap_files
    from alliance_finance.core import faults
    from alliance_finance.warehouse import load, locks, mapping, migrate
    if os.environ.get("FORK_SERVER_GX"):
        import great_expectations
        from alliance_finance import validation

    class ReadersOnly:
        def validate(self, batches):
            return [None for _ in batches]

    real_validator = validators.default_validator
    for request in sys.stdin:
        request = json.loads(request)
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
                    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(target, fd)
                    os.close(target)
                sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)
                sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)
                os.environ.clear()
                os.environ.update(request["env"])
                importlib.reload(faults)
                validators.default_validator = (real_validator if request["real_gx"]
                                                else (lambda url, var_dir=None, settings=None: ReadersOnly()))
                code = cli.main(request["argv"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"pid": pid, "exit": os.waitstatus_to_exitcode(status)}), flush=True)
""")


class ForkServer:
    """One fork server process; :meth:`start` runs ``alliance-finance run`` in a forked child."""

    def __init__(self, workdir: Path, *, gx: bool = False):
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        env = _env(workdir)
        if gx:
            env["FORK_SERVER_GX"] = "1"
        # its own process group: a failing test can stop the server and any child it left
        self.proc = subprocess.Popen([sys.executable, "-c", FORK_SERVER], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)

    def start(self, sources: Path | None, url: str, workdir: Path, *, real_gx: bool = False,
              pause: str | None = None, pause_seconds: float = 30, extra: tuple = ()) -> "Run":
        workdir.mkdir(parents=True, exist_ok=True)
        run = Run(workdir)
        env = _env(self.workdir, pause, pause_seconds)
        self.proc.stdin.write(json.dumps({
            "argv": ["run", *(["--sources", str(sources)] if sources else []), "--warehouse", url, *extra],
            "env": env,
            "stdout": str(run.out_path), "stderr": str(run.err_path), "real_gx": real_gx}) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        assert reply, "the fork server died"
        run.attach(self, json.loads(reply)["pid"])
        return run

    def result(self, pid: int) -> int:
        reply = json.loads(self.proc.stdout.readline())
        assert reply["pid"] == pid, reply
        return reply["exit"]

    def run_to_end(self, sources: Path | None, url: str, workdir: Path, **kw) -> "Run":
        run = self.start(sources, url, workdir, **kw)
        run.finish()
        return run

    def close(self) -> None:
        """Stop the server (after a failure, with any child still running)."""
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)


class Run:
    """A forked ``alliance-finance run``, its output in files the test can watch."""

    def __init__(self, workdir: Path):
        self.out_path, self.err_path = workdir / "stdout.txt", workdir / "stderr.txt"
        self.out_path.write_bytes(b"")
        self.err_path.write_bytes(b"")
        self.started = time.monotonic()
        self.returncode: int | None = None
        self._exit: dict = {}

    def attach(self, server: ForkServer, pid: int) -> None:
        self.server, self.pid = server, pid
        # the server answers once the child has ended; read that answer in the background
        self._waiter = threading.Thread(target=lambda: self._exit.setdefault("code", server.result(pid)),
                                        daemon=True)
        self._waiter.start()

    def poll(self) -> int | None:
        self.returncode = self._exit.get("code")
        return self.returncode

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 180) -> bool:
        """True once ``text`` is in stderr; False if the run ended without writing it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr:
                return True
            if self.poll() is not None:
                return text in self.stderr
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.stderr[-3000:]}")

    def kill(self) -> bool:
        """SIGKILL; True when the process was still running to receive it."""
        alive = self.poll() is None
        if alive:
            os.kill(self.pid, signal.SIGKILL)
        self.finish(30)
        return alive and self.returncode == -signal.SIGKILL

    def finish(self, timeout: float = 300) -> int:
        self._waiter.join(timeout)
        assert self.poll() is not None, f"run {self.pid} still going after {timeout} s"
        return self.returncode


# -- kill trials -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Trial:
    chain: str
    requested: str
    #: the phase the kill landed in (for a random moment, read from the run's last log line)
    phase: str
    hit: str
    killed: bool
    committed: int = 0
    seconds: float = 0.0


def _counts(engine) -> tuple[int, int]:
    """(ASC deliveries processed, WP batches loaded); (0, 0) before the first migration commits."""
    try:
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text(
                "SELECT force_code, COUNT(DISTINCT source_ref) FROM etl_batch GROUP BY force_code")).all())
    except sa.exc.ProgrammingError:
        return 0, 0
    return int(rows.get("ASC", 0)), int(rows.get("WP", 0))


def _last_phase(stderr: str) -> str:
    """Where a run stood, read from its last log line (for kills at a random moment)."""
    lines = [line for line in stderr.splitlines() if " alliance_finance" in line or "alembic" in line]
    if not lines:
        return "startup (imports, connecting)"
    last = lines[-1]
    for needle, phase in (("alembic", "migration"), ("warehouse upgraded", "reference data sync"),
                          ("views recreated", "migration"), ("row-level security applied", "migration"),
                          ("reference data", "finance seeds / lock"),
                          ("new deliveries", "ASC.read/validate"), ("ASC_GL_", "ASC.load"),
                          ("ASC: ", "ASC done, WP starting"),
                          ("extracting posted journals", "WP.read/validate"), ("WP ERP gl_journal", "WP.load")):
        if needle in last:
            return phase
    return "between phases"


def kill_trial(chain: str, server: ForkServer, sources: Path, url: str, workdir: Path, engine, *,
               pause: str | None, delay: float = 0.0, real_gx: bool = False) -> Trial:
    """Start a run, SIGKILL it at ``pause`` (+ ``delay`` seconds), check the warehouse is sound."""
    before = sum(_counts(engine))
    run = server.start(sources, url, workdir, real_gx=real_gx, pause=pause, pause_seconds=0 if delay else 30)
    if pause:
        reached = run.wait_for(f"ALLIANCE-FAULT-PAUSE {pause.split(':')[0]} ")
    else:
        reached = run.wait_for(" INFO ", timeout=60)  # its first log line: kill after a random delay
    if reached and delay:
        time.sleep(delay)
    killed = run.kill() if reached else False
    if not killed:
        run.finish()
    stderr = run.stderr
    assert "Traceback" not in stderr, stderr[-3000:]
    committed = sum(_counts(engine)) - before
    phase = (pause or "").split(":")[0]
    if not reached:
        hit = f"{pause}: not reached (nothing pending there)"
    elif not killed:
        hit = f"{pause}: run ended before the kill"
    elif pause is None or delay:
        phase = _last_phase(stderr)
        hit = f"{pause or 'start'} + {delay:.2f} s, a random moment: {phase}"
    else:
        hit = pause
    problems = row_accounting_problems(engine)
    assert not problems, f"after the kill {chain}/{hit} (seed {SEED}):\n" + "\n".join(problems)
    return Trial(chain, pause or "random", phase, hit, killed, committed, time.monotonic() - run.started)


def _redelivery_done(engine) -> bool:
    return any(b[1] == "ASC_GL_20140915_002.csv" for b in batch_ledger(engine))


def _pick(rng: random.Random, pending: int) -> int:
    return rng.randint(1, max(pending, 1))


def kill_chain(name: str, server: ForkServer, sources: Path, url: str, workdir: Path, reference: Reference,
               rng: random.Random) -> list[Trial]:
    """Kill one run at each phase in turn, each kill followed by a run that starts where it stopped,
    then a run to the end: it must converge to the clean run's warehouse."""
    engine = make_engine(url)
    trials: list[Trial] = []
    try:
        def trial(pause, delay=0.0):
            trials.append(kill_trial(name, server, sources, url, workdir / f"{len(trials):02d}", engine,
                                     pause=pause, delay=delay))

        def asc_left():
            return reference.asc_deliveries - _counts(engine)[0]

        def wp_left():
            return reference.wp_batches - _counts(engine)[1]

        trial(None, rng.uniform(0.0, 0.4))                    # start-up: migration, reference data
        # each phase only while there is work left for it (a fast machine loads 31 files in a second)
        for pause in ("ASC.read:{}", "ASC.validate", "ASC.load.staged:{}", "ASC.load.superseded",
                      "ASC.load.committed:{}", ("ASC.validate", 0.6)):
            if asc_left() and not (pause == "ASC.load.superseded" and _redelivery_done(engine)):
                pause, delay = pause if isinstance(pause, tuple) else (pause, 0.0)
                trial(pause.format(_pick(rng, asc_left())), rng.uniform(0.05, delay) if delay else 0.0)
        for pause in ("WP.read:{}", "WP.validate", "WP.load.staged:{}", "WP.load.committed:{}", ("WP.validate", 0.4)):
            if wp_left():
                pause, delay = pause if isinstance(pause, tuple) else (pause, 0.0)
                trial(pause.format(_pick(rng, wp_left())), rng.uniform(0.02, delay) if delay else 0.0)

        final = server.run_to_end(sources, url, workdir / "final")
        assert final.returncode == 0, final.stdout + final.stderr[-3000:]
        assert_sound(engine, f"{name} after the final run")
        assert fact_checksum(engine) == reference.checksum, f"{name} did not converge (seed {SEED})"
        assert batch_ledger(engine) == reference.ledger
        again = server.run_to_end(sources, url, workdir / "again")
        assert again.returncode == 0 and "ASC: nothing new to load" in again.stdout
        assert fact_checksum(engine) == reference.checksum
    finally:
        engine.dispose()
    return trials


def _report(trials: list[Trial]) -> str:
    phases = collections.Counter(t.phase for t in trials if t.killed)
    lines = [f"{len([t for t in trials if t.killed])} kills of {len(trials)} trials (seed {SEED}); phases hit: "
             + ", ".join(f"{phase} x{count}" for phase, count in sorted(phases.items()))]
    lines += [f"  {t.chain} {t.hit}: {t.committed} batch(es) committed by the killed run, {t.seconds:.1f} s"
              for t in trials]
    return "\n".join(lines)


def test_a_pause_once_file_lets_only_the_first_process_pause(tmp_path):
    """ALLIANCE_FAULT_PAUSE_ONCE: the process that creates the file pauses (and writes its pid there);
    any later one, e.g. the retry of a killed task on another worker, carries on without a marker."""
    claim = tmp_path / "paused-once"
    env = dict(os.environ, ALLIANCE_FAULT_PAUSE="ASC.load.staged", ALLIANCE_FAULT_PAUSE_SECONDS="0",
               ALLIANCE_FAULT_PAUSE_ONCE=str(claim))
    script = "from alliance_finance.core import faults; faults.reached('ASC.load.staged')"
    first, second = (subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                    timeout=60) for _ in range(2))
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    marker = first.stderr.strip()
    assert marker.startswith("ALLIANCE-FAULT-PAUSE ASC.load.staged 1 pid=")
    assert claim.read_text().strip() == marker.rsplit("pid=", 1)[1]
    assert "ALLIANCE-FAULT-PAUSE" not in second.stderr


def test_runs_killed_at_every_phase_leave_whole_batches_and_a_rerun_converges(sources, reference, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def chain(name: str, seed: int) -> list[Trial]:
        url = new_pg_database()
        server = ForkServer(tmp_path / name)
        try:
            return kill_chain(name, server, sources, url, tmp_path / name, reference, random.Random(seed))
        finally:
            server.close()
            drop_pg_database(url)

    # chains two at a time, each on its own warehouse, until at least 20 runs were killed
    trials: list[Trial] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for names in (("A", "B"), ("C", "D"), ("E", "F")):
            seeds = [SEED + ord(name) for name in names]
            trials += [t for chain_trials in pool.map(chain, names, seeds) for t in chain_trials]
            if sum(t.killed for t in trials) >= 20:
                break
    print("\n" + _report(trials))
    killed = [t for t in trials if t.killed]
    assert len(killed) >= 20, _report(trials)
    hit = {t.phase for t in killed}
    assert {"ASC.read", "ASC.validate", "ASC.load.staged", "ASC.load.committed", "WP.read", "WP.validate",
            "WP.load.staged", "WP.load.committed"} <= hit, _report(trials)


def test_a_run_killed_inside_great_expectations_and_inside_a_load_converges(sources, reference, tmp_path):
    """The real validator: killed while Great Expectations runs, then inside a load after it ran; the
    real ``alliance-finance run`` then finishes the job."""
    rng = random.Random(SEED + 2)
    url = new_pg_database()
    engine = make_engine(url)
    server = ForkServer(tmp_path / "server", gx=True)
    try:
        first = kill_trial("GX", server, sources, url, tmp_path / "validate", engine, pause="ASC.validate",
                           delay=rng.uniform(0.3, 1.5), real_gx=True)
        assert first.killed and first.committed == 0, first   # killed while validating: nothing loaded
        second = kill_trial("GX", server, sources, url, tmp_path / "load", engine, real_gx=True,
                            pause=f"WP.load.staged:{rng.randint(2, reference.wp_batches)}")
        assert second.killed and second.phase == "WP.load.staged", second
        final = cli_run(sources, url, tmp_path / "final", real_gx=True)
        assert final.returncode == 0, final.stdout + final.stderr[-3000:]
        assert_sound(engine, "after the final run")
        assert fact_checksum(engine) == reference.checksum
        assert batch_ledger(engine) == reference.ledger
        print(f"\n{_report([first, second])}")
    finally:
        server.close()
        engine.dispose()
        drop_pg_database(url)


# -- a database cut off mid-run --------------------------------------------------------------------


class Proxy:
    """A TCP proxy on 127.0.0.1 to a database server, which the test can cut like a failed network:
    the listener closes (new connections are refused) and every open connection is shut down."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.is_cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                if self.is_cut:
                    client.close()
                    upstream.close()
                    return
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self.lock:
            self.is_cut = True
            self.listener.close()
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def _port(url: str) -> int:
    return sa.engine.make_url(url).port or 5432


def _via(url: str, proxy: Proxy, password: str) -> str:
    return sa.engine.make_url(url).set(host="127.0.0.1", port=proxy.port, password=password) \
        .render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory):
    server = ForkServer(tmp_path_factory.mktemp("fork_server"))
    yield server
    server.close()


def test_the_warehouse_cut_off_mid_load_fails_the_run_clearly_and_the_next_run_completes(
        sources, reference, fork_server, pg_url, tmp_path):
    proxy = Proxy(_port(pg_url))
    # trust authentication ignores the password, so a secret can travel in the URL and must never show
    cut_url = _via(pg_url, proxy, "s3cr3t-warehouse")
    run = fork_server.start(sources, cut_url, tmp_path / "cut", pause="ASC.load.staged:5", pause_seconds=1)
    assert run.wait_for("ALLIANCE-FAULT-PAUSE ASC.load.staged 5")
    proxy.cut()
    assert run.finish() == 1
    print("\n" + "\n".join(line for line in run.stderr.splitlines() if "run failed" in line))
    said = run.stdout + run.stderr
    assert "s3cr3t-warehouse" not in said
    masked = sa.engine.make_url(cut_url).render_as_string(hide_password=True)
    failure = [line for line in run.stderr.splitlines() if line.startswith("ASC: run failed")]
    assert failure and f"warehouse {masked}" in failure[0] and "unreachable" in failure[0], run.stderr[-3000:]
    assert any(line.startswith("WP: run failed") and masked in line for line in run.stderr.splitlines())
    engine = make_engine(pg_url)
    try:
        assert_sound(engine, "after the cut")
        assert _counts(engine) == (4, 0)          # four whole batches; the fifth rolled back
        again = fork_server.run_to_end(sources, pg_url, tmp_path / "again")
        assert again.returncode == 0, again.stderr[-3000:]
        assert_sound(engine, "after the next run")
        assert fact_checksum(engine) == reference.checksum
        assert batch_ledger(engine) == reference.ledger
    finally:
        engine.dispose()


@pytest.fixture
def erp_behind_a_password(mariadb_url):
    """The Wiltshire ERP on MariaDB (a year of journals, 12 period extracts), read by a user with a password."""
    import pymysql

    import wp_fixtures as wp

    wp.create_erp_database(mariadb_url)
    wp.insert_journals(mariadb_url, list(wp.history(2016, 2016, 3000, seed=9)))
    u = sa.engine.make_url(mariadb_url)
    user = f"af_rel_{u.database[-12:]}"
    admin = pymysql.connect(host=u.host, port=u.port or 3306, user=u.username, password=u.password or "",
                            autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 's3cr3t-erp'")
            cur.execute(f"GRANT SELECT ON `{u.database}`.* TO '{user}'@'127.0.0.1'")
        yield u.set(username=user, password="s3cr3t-erp").render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        admin.close()


@pytest.mark.mariadb
def test_the_wiltshire_source_cut_off_mid_extract_fails_clearly_and_the_next_run_completes(
        erp_behind_a_password, fork_server, pg_url, tmp_path):
    erp_url = erp_behind_a_password
    clean_url = new_pg_database()
    try:
        clean = fork_server.run_to_end(None, clean_url, tmp_path / "clean", extra=("--source-url", f"WP={erp_url}"))
        assert clean.returncode == 0, clean.stderr[-3000:]
        clean_engine = make_engine(clean_url)
        expected = fact_checksum(clean_engine), batch_ledger(clean_engine)
        clean_engine.dispose()
    finally:
        drop_pg_database(clean_url)
    assert len(expected[1]) == 12

    proxy = Proxy(_port(erp_url) or 3306)
    cut_url = _via(erp_url, proxy, "s3cr3t-erp")
    run = fork_server.start(None, pg_url, tmp_path / "cut", extra=("--source-url", f"WP={cut_url}"),
                            pause="WP.read:5", pause_seconds=1)
    assert run.wait_for("ALLIANCE-FAULT-PAUSE WP.read 5")
    proxy.cut()
    assert run.finish() == 1
    failure = [line for line in run.stderr.splitlines() if "run failed" in line]
    print("\n" + "\n".join(failure))
    masked = sa.engine.make_url(cut_url).render_as_string(hide_password=True)
    assert len(failure) == 1 and failure[0].startswith(f"WP: run failed: WP ERP database {masked} unreachable")
    assert "s3cr3t-erp" not in run.stdout + run.stderr
    engine = make_engine(pg_url)
    try:
        assert_sound(engine, "after the cut")
        # a run's WP extracts are validated as one group (up to a million lines) before any loads,
        # so a cut while reading leaves nothing at all behind
        assert _counts(engine) == (0, 0)
        again = fork_server.run_to_end(None, pg_url, tmp_path / "again", extra=("--source-url", f"WP={erp_url}"))
        assert again.returncode == 0, again.stderr[-3000:]
        assert_sound(engine, "after the next run")
        assert (fact_checksum(engine), batch_ledger(engine)) == expected
    finally:
        engine.dispose()


def test_a_locked_wiltshire_file_fails_the_run_naming_it_and_the_next_run_completes(sources, tmp_path):
    """SQLite: the ERP file held by an exclusive writer (an ERP batch job) for longer than the reader waits."""
    root = tmp_path / "sources"
    shutil.copytree(sources, root)
    warehouse = f"sqlite:///{tmp_path / 'warehouse.db'}"
    erp = sqlite3.connect(root / "wiltshire" / "erp.db", isolation_level=None)
    erp.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as failure:
            pipeline.run_force("WP", sources=root, warehouse_url=warehouse, validator=ReadersOnly())
        assert time.monotonic() - started < 60
    finally:
        erp.execute("ROLLBACK")
        erp.close()
    message = str(failure.value)
    assert message.startswith(f"WP ERP database sqlite:///{(root / 'wiltshire' / 'erp.db').resolve()} unreachable")
    assert "locked" in message
    engine = make_engine(warehouse)
    try:
        assert_sound(engine, "after the locked file")
        assert _counts(engine) == (0, 0)
        result = pipeline.run_force("WP", sources=root, warehouse_url=warehouse, validator=ReadersOnly())
        assert result.ok and len(result.loaded) == 13
        assert_sound(engine, "after the next run")
    finally:
        engine.dispose()


# -- concurrent runs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_fork_server(tmp_path_factory):
    server = ForkServer(tmp_path_factory.mktemp("second_fork_server"))
    yield server
    server.close()


def _lock_refusal_or_success(run: Run) -> None:
    if run.returncode != 0:
        failures = [line for line in run.stderr.splitlines() if "run failed" in line]
        assert run.returncode == 1 and failures and all("holds the load lock" in f for f in failures), \
            run.stderr[-3000:]


def test_two_runs_started_together_on_a_new_warehouse_load_everything_once(
        sources, reference, fork_server, second_fork_server, pg_url, tmp_path):
    """Both migrate, then queue on each force's lock: whoever comes second finds nothing new."""
    first = fork_server.start(sources, pg_url, tmp_path / "first")
    second = second_fork_server.start(sources, pg_url, tmp_path / "second")
    first.finish(), second.finish()
    for run in (first, second):
        _lock_refusal_or_success(run)
    engine = make_engine(pg_url)
    try:
        assert_sound(engine, "after two runs at once")
        assert fact_checksum(engine) == reference.checksum
        assert batch_ledger(engine) == reference.ledger     # no batch twice, nothing rejected
    finally:
        engine.dispose()


def test_first_runs_migrating_an_empty_warehouse_at_once_all_succeed(pg_url):
    """Four upgrades of an empty warehouse at once: one creates the schema, the others wait for it
    (before the fix, every one but the first failed on pg_namespace's unique index)."""
    from alliance_finance.warehouse import migrate

    errors: list[str] = []
    barrier = threading.Barrier(4)

    def upgrade():
        barrier.wait()
        try:
            migrate.upgrade(pg_url)
        except Exception as exc:  # noqa: BLE001 - collected and shown
            errors.append(str(exc).splitlines()[0])

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    engine = make_engine(pg_url)
    try:
        assert_sound(engine, "after four upgrades")
    finally:
        engine.dispose()


def test_a_second_run_arriving_mid_load_waits_and_finds_nothing_new(
        sources, reference, fork_server, second_fork_server, pg_url, tmp_path):
    first = fork_server.start(sources, pg_url, tmp_path / "first", extra=("--force", "ASC"),
                              pause="ASC.load.staged:7", pause_seconds=2)
    assert first.wait_for("ALLIANCE-FAULT-PAUSE ASC.load.staged 7")
    second = second_fork_server.start(sources, pg_url, tmp_path / "second", extra=("--force", "ASC"))
    assert first.finish() == 0 and second.finish() == 0, second.stderr[-3000:]
    assert "ASC: nothing new to load" in second.stdout
    engine = make_engine(pg_url)
    try:
        assert_sound(engine, "after the second run")
        assert batch_ledger(engine) == [b for b in reference.ledger if b[0] == "ASC"]
    finally:
        engine.dispose()


def test_a_dag_load_task_and_a_cli_run_racing_load_everything_once(sources, reference, pg_url, tmp_path):
    """The DAG's load task loads batches it staged earlier while ``run_force`` runs: each batch once."""
    from alliance_finance.config.settings import Settings
    from alliance_finance.orchestration import tasks as orchestration
    settings = Settings.from_environment(warehouse=pg_url, sources_dir=sources, var_dir=tmp_path / "var")
    staged = {}
    for force in ("ASC", "WP"):
        context = {"run_id": f"race_{force}"}
        pending = orchestration.find_pending(force, context, settings=settings)
        staged[force] = (orchestration.extract_and_validate(force, pending, context, settings=settings,
                                                            validator=ReadersOnly()), context)
    assert staged["ASC"][0]["batches"] == reference.asc_deliveries

    results: dict = {}
    barrier = threading.Barrier(4)

    def dag_load(force):
        barrier.wait()
        results[("dag", force)] = orchestration.load_staged(force, *staged[force], settings=settings)

    def cli_run_force(force):
        barrier.wait()
        results[("cli", force)] = pipeline.run_force(force, sources=sources, warehouse_url=pg_url,
                                                     validator=ReadersOnly(), lock_wait_seconds=60)

    threads = [threading.Thread(target=target, args=(force,)) for force in ("ASC", "WP")
               for target in (dag_load, cli_run_force)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 4, results
    for force in ("ASC", "WP"):
        dag, cli = results[("dag", force)], results[("cli", force)]
        assert not dag["rejected"] and cli.ok
        # one of the two loaded the force's batches, the other found them loaded
        assert sorted([dag["batches_loaded"], len(cli.loaded)]) in (
            [0, reference.asc_deliveries if force == "ASC" else reference.wp_batches],)
    engine = make_engine(pg_url)
    try:
        assert_sound(engine, "after the race")
        assert fact_checksum(engine) == reference.checksum
        assert batch_ledger(engine) == reference.ledger
    finally:
        engine.dispose()


# -- idempotency -----------------------------------------------------------------------------------


def test_night_by_night_equals_one_pass_and_rerunning_the_history_changes_nothing(sources, reference, pg_url,
                                                                                  tmp_path):
    """ASC's inbound folder fed one business night at a time (the 15 September re-delivery a night
    late), Wiltshire's ERP in two steps (the later journals, and some early ones still unposted at
    first, posted later with their old posted_at), each followed by a pass: the warehouse equals the
    one-pass load; then the whole history is offered again and nothing changes."""
    root = tmp_path / "nightly"
    inbound = root / "avon_somerset" / "inbound"
    inbound.mkdir(parents=True)
    deliveries = sorted(p for p in (sources / "avon_somerset" / "inbound").iterdir() if p.suffix == ".csv")
    nights: dict[str, list[Path]] = collections.defaultdict(list)
    for path in deliveries:
        day = path.name[7:15]
        late = path.name.endswith("_002.csv")  # the re-delivery comes the night after
        nights[day if not late else f"{day}+"].append(path)

    def run(force, **kw):
        result = pipeline.run_force(force, sources=root, warehouse_url=pg_url, validator=ReadersOnly(), **kw)
        assert result.ok, result.summary()
        return result

    for night in sorted(nights):
        for path in nights[night]:
            shutil.copy2(path.with_suffix(".ctl"), inbound)   # the control file is not what is looked at first
            shutil.copy2(path, inbound)
        run("ASC")

    step_one = tmp_path / "erp_step_one.db"
    shutil.copy2(sources / "wiltshire" / "erp.db", step_one)
    with sqlite3.connect(step_one) as erp:
        erp.execute("DELETE FROM gl_journal_line WHERE journal_id IN "
                    "(SELECT journal_id FROM gl_journal WHERE posted_at >= '2014-11-01')")
        erp.execute("DELETE FROM gl_journal WHERE posted_at >= '2014-11-01'")
        parked = erp.execute("UPDATE gl_journal SET status = 'U' WHERE status = 'P' AND journal_id % 7 = 0").rowcount
    assert parked > 10
    first = run("WP", source_url=f"sqlite:///{step_one}")
    whole = f"sqlite:///{sources / 'wiltshire' / 'erp.db'}"
    second = run("WP", source_url=whole)
    assert first.lines_loaded and second.lines_loaded

    engine = make_engine(pg_url)
    try:
        assert_sound(engine, "night by night")
        assert fact_checksum(engine, source_ref_forces=("ASC",)) == reference.checksum_asc_refs
        assert [b for b in batch_ledger(engine) if b[0] == "ASC"] == [b for b in reference.ledger if b[0] == "ASC"]
        state = fact_checksum(engine), batch_ledger(engine)
        assert run("ASC").outcomes == [] and run("WP", source_url=whole).outcomes == []
        assert (fact_checksum(engine), batch_ledger(engine)) == state
    finally:
        engine.dispose()
