"""The contract generates a TypeScript client that works: openapi-typescript
turns each service's live OpenAPI into types, tsc type-checks a realistic
session written with openapi-fetch against them, and the compiled session
runs against the three services served over HTTP, as a web or mobile app
would (issue 16; the Python client's test is test_generated_clients.py).

The npm project is clients/typescript (versions pinned in its lock; `make
test` runs `npm ci` there). Without Node.js 20, npm or that install the test
fails and says how to get them: it never skips."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from services.reporting.worker import make_worker
from shared.auth import Role
from tests.callers import Caller
from tests.ports import free_port
from tests.training.api import token

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "clients" / "typescript"
NODE_MAJOR = 20
STEP_SECONDS = 300
HOW = "Node.js 20 and npm, then `make test` (npm ci in clients/typescript)"


def _node() -> str:
    """The node binary, at least version 20, with the project's packages."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail(f"node or npm is not on PATH: install {HOW}")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    found = re.match(r"v(\d+)\.", version)
    if found is None or int(found[1]) < NODE_MAJOR:
        pytest.fail(f"node {version} is too old: install {HOW}")
    if not (PROJECT / "node_modules" / ".package-lock.json").exists():
        pytest.fail(f"clients/typescript has no node_modules: {HOW}")
    return node


async def _run(
    what: str, *command: str, cwd: Path, env: dict[str, str] | None = None
) -> str:
    """Runs a step as a child process without blocking the event loop, which
    serves the requests the step makes; fails with its output."""
    child = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(child.communicate(), STEP_SECONDS)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise
    assert child.returncode == 0, f"{what} failed:\n{out.decode()}\n{err.decode()}"
    return out.decode()


@asynccontextmanager
async def serving(apps: dict[str, FastAPI]) -> AsyncIterator[str]:
    """The running apps over HTTP under one root, as the stack and the ingress
    mount them (``/beneficiary``, ``/training``, ``/reporting``)."""
    stack = Starlette(routes=[Mount(f"/{name}", app=app) for name, app in apps.items()])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            stack, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "the HTTP server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def working(
    reporting_app: FastAPI, catch_up: Callable[[], Awaitable[int]]
) -> AsyncIterator[None]:
    """What the stack's workers do, in this loop: the feeds pulled and the
    reporting queue (exports) drained, again and again while the session runs."""
    stop = asyncio.Event()

    async def work() -> None:
        while not stop.is_set():
            await catch_up()
            worker = make_worker(reporting_app.state.runtime, burst=True)
            try:
                await worker.async_run()
            finally:
                await worker.close()
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.3)

    task = asyncio.create_task(work())
    try:
        yield
    finally:
        stop.set()
        await task


async def test_a_session_through_the_generated_typescript_client(
    tmp_path: Path,
    beneficiary_app: FastAPI,
    training_app: FastAPI,
    reporting_app: FastAPI,
    alice: Caller,
    issue: Any,
    catch_up: Callable[[], Awaitable[int]],
) -> None:
    node = _node()
    # A copy of the project's sources beside its installed packages, so the
    # generated and compiled files stay out of the tree.
    work = tmp_path / "client"
    (work / "src").mkdir(parents=True)
    for name in ("package.json", "tsconfig.json"):
        shutil.copy(PROJECT / name, work)
    shutil.copy(PROJECT / "src" / "session.ts", work / "src")
    (work / "node_modules").symlink_to(PROJECT / "node_modules")
    manager = issue(alice.org, Role.programme_manager)
    trainer = token(training_app.state.settings, uuid.UUID(alice.org.id), Role.trainer)
    apps = {
        "beneficiary": beneficiary_app,
        "training": training_app,
        "reporting": reporting_app,
    }
    async with serving(apps) as base:
        generated = await _run(
            "openapi-typescript",
            node,
            str(PROJECT / "generate.mjs"),
            base,
            str(work / "src" / "generated"),
            cwd=work,
        )
        assert generated.count(".ts from http") == len(apps), generated
        tsc = PROJECT / "node_modules" / "typescript" / "bin" / "tsc"
        await _run(
            "tsc (the session against the generated types)",
            node,
            str(tsc),
            "-p",
            ".",
            cwd=work,
        )
        env = {
            **os.environ,
            "MHPSS_BASE_URL": base,
            "MHPSS_FIELD_TOKEN": alice.token,
            "MHPSS_MANAGER_TOKEN": manager.token,
            "MHPSS_TRAINER_TOKEN": trainer["Authorization"].removeprefix("Bearer "),
        }
        async with working(reporting_app, catch_up):
            out = await _run("the session", node, "build/session.js", cwd=work, env=env)

    seen = json.loads(out.strip().splitlines()[-1])
    people = seen["registered"]
    assert [p["version"] for p in people] == [1, 1, 1]
    assert seen["pages"] == 2
    assert sorted(seen["listed"]) == sorted(p["id"] for p in people)
    assert seen["edited_version"] == 2
    [synced] = seen["sync"]
    assert synced["id"] == people[1]["id"]
    assert synced["status"] == "conflict"
    assert synced["conflict_id"]
    assert seen["people_reached"] == 1
    export = seen["export"]
    assert export["status"] == "ready"
    assert export["content_type"].startswith("text/csv")
    assert export["lines"][1].startswith("people_reached,2026-01-01,2026-12-31,1,")
    assert seen["trainees"] == [seen["trainee"]]
