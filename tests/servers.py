"""Real, throwaway servers for integration tests: a PostgreSQL cluster and an MLflow
tracking server.

Stdlib + mlflow only, so it can be imported from any test without extra deps.
Both classes are context managers; both own a temp dir that `stop()`/`close()` remove.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Where distributions put the server binaries (initdb/pg_ctl are not on PATH on Debian).
# Overridable with CLAUDETRACING_PG_BINDIR for unusual installs.
_PG_BINDIR_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian / Ubuntu (incl. GitHub Actions runners)
    "/usr/pgsql-*/bin",  # RHEL / Fedora PGDG packages
    "/opt/homebrew/opt/postgresql@*/bin",  # Homebrew, Apple silicon
    "/usr/local/opt/postgresql@*/bin",  # Homebrew, Intel
)


class ServerError(RuntimeError):
    """A test server could not be started or stopped."""


def free_port() -> int:
    """A port that is free right now on 127.0.0.1 (racy, but fine for tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


def find_pg_bindir() -> Path | None:
    """Directory with initdb, pg_ctl and createdb (newest major version first), or None."""
    override = os.environ.get("CLAUDETRACING_PG_BINDIR")
    candidates = [Path(override)] if override else []
    on_path = shutil.which("initdb")
    if on_path:
        # resolve(): a lone symlink (e.g. /usr/local/bin/initdb) must lead to the real bindir.
        candidates.append(Path(on_path).resolve().parent)

    def version(path: str) -> int:
        match = re.search(r"(\d+)", path)
        return int(match.group(1)) if match else 0

    for pattern in _PG_BINDIR_GLOBS:
        candidates += [Path(p) for p in sorted(glob.glob(pattern), key=version, reverse=True)]
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "createdb")):
            return bindir
    return None


class Postgres:
    """A private PostgreSQL cluster on 127.0.0.1:<free port> with trust auth.

    Everything (data dir, unix socket, log) lives in one temp dir removed by `stop()`.
    """

    SUPERUSER = "postgres"

    def __init__(self, dbname: str = "mlflow", port: int | None = None):
        bindir = find_pg_bindir()
        if bindir is None:
            raise ServerError(
                "PostgreSQL server binaries (initdb, pg_ctl, createdb) not found. Install "
                "them (Debian/Ubuntu: `apt-get install postgresql`) or set CLAUDETRACING_PG_BINDIR."
            )
        self.bindir = bindir
        self.dbname = dbname
        self.port = port or free_port()
        self.dir: Path | None = None

    @property
    def url(self) -> str:
        """libpq-style URL (psql, psycopg2.connect)."""
        return f"postgresql://{self.SUPERUSER}@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def sqlalchemy_url(self) -> str:
        """URL for `mlflow server --backend-store-uri`.

        SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, but we install
        psycopg2-binary, so the driver has to be named.
        """
        return self.url.replace("postgresql://", "postgresql+psycopg2://", 1)

    @property
    def _data(self) -> Path:
        return self.dir / "data"

    @property
    def _log(self) -> Path:
        return self.dir / "postgres.log"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        # PostgreSQL refuses to run as root; drop to the `postgres` system user then.
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        # cwd: the postgres user may not be allowed into the caller's cwd (e.g. /root).
        result = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise ServerError(
                f"{tool} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n"
                f"--- {self._log} ---\n{_tail(self._log)}"
            )

    def start(self) -> Postgres:
        self.dir = Path(tempfile.mkdtemp(prefix="claudetracing-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        try:
            # --no-sync and the fsync settings below: data only has to survive
            # MLflow server restarts, not a crash of the machine.
            self._run(
                "initdb", "-D", str(self._data), "-U", self.SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            self._run(
                "pg_ctl", "-D", str(self._data), "-l", str(self._log), "-o", options,
                "-w", "-t", "60", "start",
            )  # fmt: skip
            self.create_database(self.dbname)
        except BaseException:
            self.stop()
            raise
        return self

    def create_database(self, name: str) -> str:
        """Create another database in this cluster (e.g. one per test); its SQLAlchemy URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.SUPERUSER, name)
        return self.sqlalchemy_url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self.dir is None:
            return
        try:
            if (self._data / "postmaster.pid").exists():
                # Immediate mode: no checkpoint, we are about to delete the data anyway.
                self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class MlflowServer:
    """`mlflow server` as a subprocess, restartable on the same port and backend.

    `stop()` only kills the process, so `start()` again serves the same data;
    `close()` also removes the temp dir (artifacts, log, default SQLite file).
    Backend: `Postgres.sqlalchemy_url`, any other SQLAlchemy URI, or by default a
    SQLite file in the server's temp dir.
    """

    def __init__(
        self,
        backend_store_uri: str | None = None,
        port: int | None = None,
        workers: int = 1,
        python: str = sys.executable,
        start_timeout: float = 90.0,
    ):
        self.dir = Path(tempfile.mkdtemp(prefix="claudetracing-mlflow-"))
        self.backend_store_uri = backend_store_uri or f"sqlite:///{self.dir / 'mlflow.db'}"
        self.port = port or free_port()
        self.workers = workers
        self.python = python
        self.start_timeout = start_timeout
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        # No --allowed-hosts needed: the default host check accepts 127.0.0.1/localhost.
        return [
            self.python, "-m", "mlflow", "server",
            "--backend-store-uri", self.backend_store_uri,
            # Proxied artifacts, so clients never need direct access to the store's disk.
            "--serve-artifacts", "--artifacts-destination", str(self.dir / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port),
            # The default is 4 uvicorn workers: each imports mlflow (~2-3 s CPU).
            "--workers", str(self.workers),
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The job runner (huey consumer processes) is on by default since MLflow 3.x;
        # tests never use server-side jobs, so skip its extra processes.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        # A tracking URI inherited from the test environment must not leak into the server.
        env.pop("MLFLOW_TRACKING_URI", None)
        return env

    def start(self) -> MlflowServer:
        if self.proc is not None:
            raise ServerError(f"MLflow server on {self.url} is already running")
        if port_open(self.port):
            raise ServerError(f"port {self.port} is already in use")
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {' '.join(self._command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self._command(),
                env=self._env(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: `mlflow server` spawns uvicorn, which spawns workers;
                # stop() must reach all of them.
                start_new_session=True,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"mlflow server exited with {self.proc.returncode} during startup:\n{_tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:  # refused, reset, or URLError while uvicorn boots
                pass
            time.sleep(0.2)
        raise ServerError(
            f"mlflow server on {self.url} not healthy after {self.start_timeout:.0f}s:\n{_tail(self.log_path)}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        # SIGKILL whatever is left: a hung parent, or workers that outlived it.
        self._signal_group(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        deadline = time.monotonic() + timeout
        while port_open(self.port):
            if time.monotonic() > deadline:
                raise ServerError(f"port {self.port} still open after stopping mlflow server")
            time.sleep(0.1)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
            os.killpg(self.proc.pid, sig)  # pgid == pid thanks to start_new_session

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self) -> MlflowServer:
        try:
            return self.start()
        except BaseException:
            self.close()  # __exit__ will not run, but the temp dir must go
            raise

    def __exit__(self, *exc) -> None:
        self.close()
