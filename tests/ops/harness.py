"""Real processes on loopback, started as the production image starts them
(``deploy/entrypoint.sh api|worker|migrate``), on a PRIVATE PostgreSQL
cluster and a PRIVATE Redis server that the fault tests may stop, restart and
flush. The machine's shared servers are never touched.

Every process is its own process group and is killed when the test ends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from shared.auth import LocalSigningKey, Role
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "deploy" / "entrypoint.sh"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SERVICES = ("beneficiary", "training", "reporting")
WORKER_SERVICES = ("beneficiary", "training", "reporting")
START_SECONDS = 90.0


def _as_postgres_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as ``postgres``."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _own_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster in a temporary folder (trust auth,
    no fsync), on a free port, that tests may stop and restart at will."""

    def __init__(self) -> None:
        # not under pytest's tmp_path: its folders are private to their owner
        self.root = Path(tempfile.mkdtemp(prefix="mhpss-ops-pg-"))
        self.data = self.root / "pgdata"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def _run(self, tool: str, *args: str | Path) -> None:
        done = subprocess.run(
            [*_as_postgres_user(), str(PG_BIN / tool), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{tool}: {done.stdout}{done.stderr}"

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=400"
        )

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-o", self._options(), "-l", self.log,
                  "-w", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        subprocess.run(
            [*_as_postgres_user(), str(PG_BIN / "pg_ctl"), "-D", str(self.data),
             "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        """For asyncpg, which the checks use to count rows."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


class PrivateRedis:
    """A redis-server of our own (no persistence), so a restart loses
    everything it held, as a crashed Redis without AOF would."""

    def __init__(self, root: Path) -> None:
        self.log_path = root / "redis.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"],
                capture_output=True,
                text=True,
                check=False,
            )
            if ping.stdout.strip() == "PONG":
                return
            assert time.monotonic() < deadline, self.log_path.read_text()[-2000:]
            time.sleep(0.05)

    def key_count(self) -> int:
        """Keys in all databases: what a restart loses."""
        found = subprocess.run(
            ["redis-cli", "-p", str(self.port), "info", "keyspace"],
            capture_output=True,
            text=True,
            check=True,
        )
        return sum(
            int(line.split("keys=")[1].split(",")[0])
            for line in found.stdout.splitlines()
            if "keys=" in line
        )

    def kill(self) -> None:
        if self.process is not None:
            _own_group(self.process)
            self.process.wait(timeout=10)
            self.process = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@dataclass
class Process:
    """One API or worker process and its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None

    def kill(self) -> None:
        """SIGKILL to its whole process group: nothing runs a cleanup."""
        _own_group(self.popen)
        self.popen.wait(timeout=10)

    def tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:]


@dataclass
class Platform:
    """The three services on one PostgreSQL server and one Redis, configured
    through the environment variables production uses (docs/configuration.md)."""

    root: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    database: str = "mhpss"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    ports: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = self.root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.signing_key = LocalSigningKey.load_or_create(self.data_dir)
        self.pii_keys = json.dumps({"k1": _key()})
        self.blind_index_key = _key()
        for service in SERVICES:
            self.ports[service] = [free_port(), free_port()]

    def api_url(self, service: str, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[service][index]}"

    def started_apis(self, service: str) -> list[str]:
        """Base URLs of the API processes of ``service`` this test started."""
        return [
            p.url
            for p in self.processes
            if p.url is not None and p.name.startswith(f"{service}-api")
        ]

    def env(self, **overrides: str) -> dict[str, str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BENEFICIARY_", "TRAINING_", "REPORTING_", "TEST_"))
            and k not in ("DATABASE_URL", "REDIS_URL", "AUTH_JWKS_URL", "DATA_DIR")
        }
        venv_bin = str(Path(sys.executable).parent)
        return {
            **inherited,
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "DATABASE_URL": self.postgres.url(self.database),
            "REDIS_URL": self.redis.url(),
            "DATA_DIR": str(self.data_dir),
            "PII_KEYS": self.pii_keys,
            "BLIND_INDEX_KEY": self.blind_index_key,
            "AUTO_MIGRATE": "false",
            "PYTHONUNBUFFERED": "1",  # logs reach their files as they happen
            "ROOT_PATH": "",
            "GRACEFUL_SHUTDOWN_SECONDS": "2",
            "REPORTING_BENEFICIARY_URL": self.api_url("beneficiary"),
            "REPORTING_TRAINING_URL": self.api_url("training"),
            "TRAINING_BENEFICIARY_URL": self.api_url("beneficiary"),
            "BENEFICIARY_TRAINING_URL": self.api_url("training"),
            **self.extra_env,
            **overrides,
        }

    def migrate(self, *services: str) -> None:
        """``migrate <service>`` for each service (all by default), run side by
        side as a deploy's one-off jobs would be."""
        jobs = [
            subprocess.Popen(
                ["sh", str(ENTRYPOINT), "migrate", service],
                env=self.env(),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for service in services or SERVICES
        ]
        for job in jobs:
            output, _ = job.communicate(timeout=300)
            assert job.returncode == 0, output.decode(errors="replace")[-3000:]

    def _spawn(self, name: str, args: Sequence[str], env: dict[str, str]) -> Process:
        log = self.root / f"{name}.log"
        out: IO[bytes]
        with log.open("ab") as out:
            popen = subprocess.Popen(
                ["sh", str(ENTRYPOINT), *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start_api(self, service: str, index: int = 0, **env: str) -> Process:
        port = self.ports[service][index]
        process = self._spawn(
            f"{service}-api-{index}",
            ["api", service],
            self.env(HOST="127.0.0.1", PORT=str(port), **env),
        )
        process.url = self.api_url(service, index)
        return process

    def start_worker(
        self, service: str, name: str | None = None, **env: str
    ) -> Process:
        count = sum(p.name.startswith(f"{service}-worker") for p in self.processes)
        return self._spawn(
            name or f"{service}-worker-{count}", ["worker", service], self.env(**env)
        )

    async def wait_ready(self, processes: Sequence[Process] | None = None) -> None:
        """APIs answer /readyz; workers have logged that they poll."""
        waiting = list(processes if processes is not None else self.processes)
        deadline = time.monotonic() + START_SECONDS
        async with httpx.AsyncClient(timeout=2) as client:
            while waiting:
                for process in list(waiting):
                    if process.popen.poll() is not None:
                        pytest.fail(f"{process.name} exited:\n{process.tail()}")
                    if process.url is not None:
                        try:
                            r = await client.get(f"{process.url}/readyz")
                        except httpx.HTTPError:
                            continue
                        if r.status_code == 200:
                            waiting.remove(process)
                    elif "Starting worker for" in process.log.read_text(
                        errors="ignore"
                    ):
                        waiting.remove(process)
                if time.monotonic() > deadline:
                    names = ", ".join(p.name for p in waiting)
                    pytest.fail(f"not ready after {START_SECONDS} s: {names}")
                await asyncio.sleep(0.2)

    def alive(self) -> list[str]:
        """Names of processes that exited (should be none)."""
        return [p.name for p in self.processes if p.popen.poll() is not None]

    def close(self) -> None:
        for process in self.processes:
            _own_group(process.popen)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=10)

    def token(
        self, organisation: str, *roles: Role, subject: str | None = None
    ) -> dict[str, str]:
        """Bearer headers signed with the stack's local key."""
        token = self.signing_key.issue(
            subject=subject or f"user-{uuid.uuid4().hex[:6]}",
            organisation_id=uuid.UUID(organisation),
            roles=roles,
            issuer="mhpss-local",
            audience="mhpss",
        )
        return {"Authorization": f"Bearer {token}"}


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def service_database(platform: Platform, service: str) -> str:
    """The asyncpg DSN of one service's database (``DATABASE_URL`` + ``_<service>``)."""
    return platform.postgres.dsn(f"{platform.database}_{service}")


def log_lines(process: Process) -> list[dict[str, Any]]:
    """A process's JSON log lines (non-JSON lines skipped)."""
    found = []
    for line in process.log.read_text(errors="replace").splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found
