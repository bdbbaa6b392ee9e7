"""The embedded default as a newcomer runs it: one process, SQLite files,
in-process jobs, demo data, and the API answering under one base URL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_stack_starts_with_demo_data_on_sqlite(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("DATABASE_URL", "REDIS_URL", "JWKS_URL"))
    }
    env["DATA_DIR"] = str(tmp_path / "data")
    log = (tmp_path / "stack.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.stack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise AssertionError((tmp_path / "stack.log").read_text()[-3000:])
        for service in ("beneficiary", "training", "reporting"):
            ready = httpx.get(f"{base}/{service}/readyz", timeout=5)
            assert ready.status_code == 200, ready.text
            assert httpx.get(f"{base}/{service}/docs", timeout=5).status_code == 200
        assert (tmp_path / "data" / "beneficiary.db").exists()
        tokens = json.loads((tmp_path / "data" / "demo-tokens.json").read_text())
        worker = {"Authorization": f"Bearer {tokens['tokens']['case_worker']}"}
        listed = httpx.get(f"{base}/beneficiary/v1/beneficiaries", headers=worker)
        assert listed.status_code == 200
        assert len(listed.json()["items"]) == 3
        governorates = httpx.get(
            f"{base}/beneficiary/v1/locations",
            params={"level": "governorate"},
            headers=worker,
        ).json()
        assert {g["pcode"] for g in governorates} >= {"IQG08", "IQG09", "IQG15"}
        reader = {"Authorization": f"Bearer {tokens['tokens']['reporting_service']}"}
        feed = httpx.get(f"{base}/beneficiary/v1/events", headers=reader).json()
        assert feed["events"], "the demo writes reach the change feed"
        assert "Layla" not in json.dumps(feed)
        unauthenticated = httpx.get(f"{base}/beneficiary/v1/beneficiaries")
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["content-type"] == "application/problem+json"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
