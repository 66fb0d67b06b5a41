"""The production topology without Docker, as real processes on loopback.

PostgreSQL (Debian's ``postgresql`` package: ``initdb`` + ``pg_ctl`` on a data directory
under a work directory), Redis (``redis-server``), one action server (``rasa run actions``)
and N Rasa replicas (``rasa run`` with ``endpoints.production.yml``), each on a free port of
127.0.0.1. Used by ``tests/deploy`` and by ``bench/load.py``.

PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user (created by
the Debian package) through ``runuser``; its directory is handed to that user.

Every wait is bounded; a process that dies or does not get ready in time raises
``TopologyError`` with the tail of its log.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "lpse-assist.tar.gz"
PRODUCTION_ENDPOINTS = ROOT / "endpoints.production.yml"
CREDENTIALS = ROOT / "credentials.yml"

# Rasa needs 15-25 s to start on an idle 2-core machine; three at once on a busy one need
# much longer. Generous: a slow start must not fail the tests, a hung one must.
DEFAULT_STARTUP_TIMEOUT = 420.0
STOP_TIMEOUT = 30.0
POLL_SECONDS = 0.5

# Twilio settings that credentials.yml reads. Development values, the same as .env.example.
DEV_TWILIO_ENV = {
    "TWILIO_ACCOUNT_SID": "ACdev00000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "dev-auth-token-not-secret",
    "TWILIO_SMS_NUMBER": "+15005550006",
    "TWILIO_WHATSAPP_NUMBER": "whatsapp:+14155238886",
    "TWILIO_WEBHOOK_URL": "",
    "TWILIO_API_BASE_URL": "",
}


# Set for the Rasa replicas only (docker-compose.yml's x-rasa environment).
TF_THREAD_SETTINGS = ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS")


class TopologyError(RuntimeError):
    """A process of the topology failed to start, or died."""


class MissingBinariesError(RuntimeError):
    """PostgreSQL or Redis is not installed."""


@dataclass(frozen=True)
class Binaries:
    """Server programs of the Debian packages."""

    initdb: str
    pg_ctl: str
    redis_server: str


def find_binaries() -> Binaries:
    """The PostgreSQL and Redis programs, or ``MissingBinariesError`` naming what is missing."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
    )
    pg_bin = Path(versions[-1]) if versions else None
    initdb = str(pg_bin / "initdb") if pg_bin and (pg_bin / "initdb").exists() else None
    pg_ctl = str(pg_bin / "pg_ctl") if pg_bin and (pg_bin / "pg_ctl").exists() else None
    initdb = initdb or shutil.which("initdb")
    pg_ctl = pg_ctl or shutil.which("pg_ctl")
    redis_server = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    missing = [
        name
        for name, path in (("initdb", initdb), ("pg_ctl", pg_ctl), ("redis-server", redis_server))
        if not path
    ]
    if missing or not initdb or not pg_ctl or not redis_server:
        raise MissingBinariesError(
            f"{', '.join(missing)} not found: install the Debian packages postgresql and "
            "redis-server (.ci/run does)"
        )
    return Binaries(initdb=initdb, pg_ctl=pg_ctl, redis_server=redis_server)


def find_program(name: str) -> str | None:
    """A program on the PATH or in the sbin directories (nginx lives in /usr/sbin)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(directory) / name
        if candidate.exists() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def nginx_command(nginx: str, workdir: Path, directives: str) -> list[str]:
    """nginx with `workdir` as its prefix and the home of its nginx.conf, error log and pid
    file (not /etc/nginx, /var/log/nginx: no root needed); `directives` are global ones."""
    return [
        nginx,
        "-p",
        str(workdir),
        "-c",
        str(workdir / "nginx.conf"),
        "-e",
        str(workdir / "error.log"),
        "-g",
        f"pid {workdir / 'nginx.pid'}; {directives}".strip(),
    ]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file ("" when it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Process:
    """One long-running process of the topology."""

    name: str
    argv: list[str]
    log: Path
    ready_url: str | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, env: dict[str, str], cwd: Path) -> None:
        if self.running:
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as handle:
            handle.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n".encode())
            # Own session: a signal to the test runner's group does not reach it, and the
            # stop below signals exactly this process.
            self.popen = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=STOP_TIMEOUT)
        self.popen = None

    def stop(self) -> None:
        """SIGTERM (what `docker stop` sends), SIGKILL if it is still there after a while."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.send_signal(signal.SIGKILL)
                self.popen.wait(timeout=STOP_TIMEOUT)
        self.popen = None


@dataclass
class Topology:
    """PostgreSQL, Redis, an action server and N Rasa replicas on loopback.

    Ports and data directories are chosen once; ``stop`` and ``start`` again reuse them, so
    a restart keeps the conversations (PostgreSQL's data directory).
    """

    workdir: Path
    replicas: int = 2
    endpoints: Path = PRODUCTION_ENDPOINTS
    credentials: Path = CREDENTIALS
    model: Path = MODEL
    extra_env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    enable_api: bool = True
    # How to invoke Rasa (the benchmark wraps it for Rasa's built-in Twilio channel).
    rasa_command: list[str] | None = None
    # False: no PostgreSQL/Redis (the embedded default profile: SQLite, in-memory lock).
    with_stores: bool = True
    # True: PostgreSQL flushes every commit to disk, as in production (the benchmark). The
    # tests skip that: they check behaviour, and a machine crash is not among their cases.
    durable_postgres: bool = False

    def __post_init__(self) -> None:
        self.binaries = find_binaries() if self.with_stores else Binaries("", "", "")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs = self.workdir / "logs"
        self.api_token = secrets.token_hex(16)
        self.db_password = secrets.token_hex(12)
        self.redis_password = secrets.token_hex(12)
        self.db_user = "lpse"
        self.db_name = "lpse_tracker"
        self.postgres_port = free_port()
        self.redis_port = free_port()
        self.action_port = free_port()
        self.replica_ports = [free_port() for _ in range(self.replicas)]
        self.pg_dir = self.workdir / "postgres"
        self.redis_dir = self.workdir / "redis"
        self._pg_user = self._postgres_os_user()
        self.redis = Process(
            "redis",
            [
                self.binaries.redis_server,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                self.redis_password,
                "--dir",
                str(self.redis_dir),
            ],
            self.logs / "redis.log",
        )
        self.actions = Process(
            "actions",
            [
                sys.executable,
                "-m",
                "rasa",
                "run",
                "actions",
                "--actions",
                "actions",
                "--port",
                str(self.action_port),
            ],
            self.logs / "actions.log",
            ready_url=f"http://127.0.0.1:{self.action_port}/health",
        )
        self.rasa: list[Process] = []
        for index, port in enumerate(self.replica_ports):
            argv = [
                *self._rasa(),
                "run",
                "--model",
                str(self.model),
                "--endpoints",
                str(self.endpoints),
                "--credentials",
                str(self.credentials),
                "--interface",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            if self.enable_api:
                argv += ["--enable-api", "--auth-token", self.api_token]
            self.rasa.append(
                Process(
                    f"rasa-{index}",
                    argv,
                    self.logs / f"rasa-{index}.log",
                    ready_url=f"http://127.0.0.1:{port}/",
                )
            )

    # ----------------------------------------------------------------- settings

    def _rasa(self) -> list[str]:
        return list(self.rasa_command or [sys.executable, "-m", "rasa"])

    @staticmethod
    def _postgres_os_user() -> str | None:
        """The user PostgreSQL runs as when we are root (it refuses root), else None."""
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                continue
        raise TopologyError("running as root and neither 'postgres' nor 'nobody' exists")

    def env(self) -> dict[str, str]:
        """Environment of the Rasa processes: what .env.example documents, for this machine."""
        env = dict(os.environ)
        env.update(DEV_TWILIO_ENV)
        env.update(
            {
                "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.action_port}/webhook",
                "TRACKER_DB": str(self.workdir / "tracker.db"),
                # One Sanic worker per replica: the replicas are the unit of scale here.
                "SANIC_WORKERS": "1",
                # As docker-compose.yml sets them for the replicas.
                "TF_INTER_OP_PARALLELISM_THREADS": "1",
                "TF_INTRA_OP_PARALLELISM_THREADS": "1",
            }
        )
        for name in (
            "POSTGRES_HOST",
            "POSTGRES_PORT",
            "POSTGRES_DB",
            "POSTGRES_USER",
            "POSTGRES_PASSWORD",
            "REDIS_HOST",
            "REDIS_PORT",
            "REDIS_PASSWORD",
            "REDIS_DB",
        ):
            env.pop(name, None)  # whatever the calling shell had: never another server's
        if self.with_stores:
            # Without them the action server keeps its tickets in SQLite (TRACKER_DB), as
            # in the embedded default.
            env.update(
                {
                    "POSTGRES_HOST": "127.0.0.1",
                    "POSTGRES_PORT": str(self.postgres_port),
                    "POSTGRES_DB": self.db_name,
                    "POSTGRES_USER": self.db_user,
                    "POSTGRES_PASSWORD": self.db_password,
                    "REDIS_HOST": "127.0.0.1",
                    "REDIS_PORT": str(self.redis_port),
                    "REDIS_PASSWORD": self.redis_password,
                    "REDIS_DB": "1",
                }
            )
        env.update(self.extra_env)
        return env

    def replica_url(self, index: int) -> str:
        """Base URL of a Rasa replica."""
        return f"http://127.0.0.1:{self.replica_ports[index]}"

    def database_url(self) -> str:
        """SQLAlchemy URL of the conversation database."""
        return (
            f"postgresql://{self.db_user}:{self.db_password}@127.0.0.1:"
            f"{self.postgres_port}/{self.db_name}"
        )

    # ----------------------------------------------------------------- PostgreSQL

    def _as_pg_user(self, argv: Sequence[str]) -> list[str]:
        if self._pg_user is None:
            return list(argv)
        return ["runuser", "-u", self._pg_user, "--", *argv]

    def _run(self, argv: Sequence[str], what: str, timeout: float = 120.0) -> None:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise TopologyError(
                f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def _let_postgres_traverse(self) -> None:
        """Let the server user traverse (not read) the path to its directory.

        mkdtemp makes private directories; those under the temp directory are opened for
        traversal, anything else that blocks the way is an error.
        """
        temp_root = Path(tempfile.gettempdir()).resolve()
        for directory in [self.workdir.resolve(), *self.workdir.resolve().parents]:
            mode = stat.S_IMODE(directory.stat().st_mode)
            if mode & 0o001:
                continue
            if temp_root in directory.parents:
                os.chmod(directory, mode | 0o011)
            else:
                raise TopologyError(
                    f"{directory} is not traversable by {self._pg_user}: use a work "
                    "directory under the temp directory (tempfile.mkdtemp())"
                )

    def _init_postgres(self) -> None:
        data = self.pg_dir / "data"
        if (data / "PG_VERSION").exists():
            return
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        password_file = self.pg_dir / "password"
        password_file.write_text(self.db_password + "\n")
        if self._pg_user is not None:
            self._let_postgres_traverse()
            shutil.chown(self.pg_dir, user=self._pg_user)
            shutil.chown(password_file, user=self._pg_user)
        self._run(
            self._as_pg_user(
                [
                    self.binaries.initdb,
                    "-D",
                    str(data),
                    "-U",
                    self.db_user,
                    "--pwfile",
                    str(password_file),
                    "--auth",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale",
                    "C.UTF-8",
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        password_file.unlink()

    def start_postgres(self) -> None:
        """Start PostgreSQL (initialising its data directory the first time)."""
        self._init_postgres()
        data = self.pg_dir / "data"
        options = (
            f"-p {self.postgres_port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.pg_dir} -c max_connections=200"
        )
        if not self.durable_postgres:
            options += " -c fsync=off -c synchronous_commit=off"
        self._run(
            self._as_pg_user(
                [
                    self.binaries.pg_ctl,
                    "-D",
                    str(data),
                    "-l",
                    str(self.pg_dir / "postgres.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "120",
                    "start",
                ]
            ),
            "pg_ctl start",
            timeout=150,
        )
        self._create_database()

    def _create_database(self) -> None:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1",
            port=self.postgres_port,
            user=self.db_user,
            password=self.db_password,
            dbname="postgres",
            connect_timeout=10,
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.db_name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            connection.close()

    def stop_postgres(self) -> None:
        """Stop PostgreSQL (fast shutdown: what a container stop does)."""
        data = self.pg_dir / "data"
        if not (data / "postmaster.pid").exists():
            return
        self._run(
            self._as_pg_user(
                [self.binaries.pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"]
            ),
            "pg_ctl stop",
            timeout=90,
        )

    # ----------------------------------------------------------------- Redis

    def start_redis(self) -> None:
        """Start Redis and wait until it answers."""
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        self.redis.start(self.env(), self.workdir)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.redis.running:
                raise TopologyError(f"redis-server exited:\n{tail(self.redis.log)}")
            if port_is_open(self.redis_port):
                return
            time.sleep(0.1)
        raise TopologyError(f"redis-server did not open its port:\n{tail(self.redis.log)}")

    # ----------------------------------------------------------------- Rasa

    def start_processes(self, processes: Sequence[Process]) -> None:
        """Start processes together and wait until each answers its ready URL."""
        env = self.env()
        for process in processes:
            process.start(self.env_of(process, env), ROOT)
        self.wait_ready(processes)

    def env_of(self, process: Process, env: dict[str, str]) -> dict[str, str]:
        """``env`` for one process: the action server gets no TensorFlow thread settings, as
        in docker-compose.yml (with them ``rasa run actions`` imports TensorFlow to apply
        them: about 360 MiB more for a process that never runs a model)."""
        if process is not self.actions:
            return env
        return {k: v for k, v in env.items() if k not in TF_THREAD_SETTINGS}

    def wait_ready(self, processes: Sequence[Process]) -> None:
        """Wait (bounded) until every process answers; raise with its log if one dies."""
        waiting = [p for p in processes if p.ready_url]
        deadline = time.monotonic() + self.startup_timeout
        while waiting and time.monotonic() < deadline:
            for process in list(waiting):
                if not process.running:
                    raise TopologyError(f"{process.name} exited:\n{tail(process.log)}")
                assert process.ready_url is not None
                if _http_ok(process.ready_url):
                    waiting.remove(process)
            if waiting:
                time.sleep(POLL_SECONDS)
        if waiting:
            names = ", ".join(p.name for p in waiting)
            logs = "\n".join(f"--- {p.name}\n{tail(p.log)}" for p in waiting)
            raise TopologyError(f"not ready after {self.startup_timeout:.0f} s: {names}\n{logs}")

    def start(self) -> None:
        """Start everything: the stores first, then action server and replicas in parallel."""
        if not self.model.exists():
            raise TopologyError(f"no model at {self.model}: run `make train`")
        if self.with_stores:
            self.start_postgres()
            self.start_redis()
        self.start_processes([self.actions, *self.rasa])

    def ensure_running(self) -> None:
        """Start whatever is not running (after a kill or a stop in an earlier test)."""
        data = self.pg_dir / "data"
        if self.with_stores and (
            not (data / "postmaster.pid").exists() or not port_is_open(self.postgres_port)
        ):
            self.start_postgres()
        if self.with_stores and not self.redis.running:
            self.start_redis()
        missing = [p for p in (self.actions, *self.rasa) if not p.running]
        if missing:
            self.start_processes(missing)

    def stop(self) -> None:
        """Stop everything (SIGTERM, then the stores); data directories stay."""
        for process in (*self.rasa, self.actions):
            process.stop()
        self.redis.stop()
        self.stop_postgres()

    def kill_replica(self, index: int) -> None:
        """SIGKILL one Rasa replica."""
        self.rasa[index].kill()

    def all_logs(self) -> str:
        """Tails of every log, for a failing test's report."""
        parts = [f"--- {p.name}\n{tail(p.log)}" for p in (*self.rasa, self.actions, self.redis)]
        parts.append(f"--- postgres\n{tail(self.pg_dir / 'postgres.log')}")
        return "\n".join(parts)
