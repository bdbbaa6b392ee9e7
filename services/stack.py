"""All three services in one process under one base URL (the embedded
default): /beneficiary, /training, /reporting, each with its own database
and its own docs. ``python -m services.stack`` starts it. With REDIS_URL set,
the workers run in this process too, so the stack is complete either way."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from arq.worker import Worker
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from services import demo
from services.beneficiary.app import create_app as create_beneficiary
from services.beneficiary.settings import BeneficiarySettings
from services.beneficiary.worker import make_worker as beneficiary_worker
from services.reporting.app import create_app as create_reporting
from services.reporting.settings import ReportingSettings
from services.reporting.worker import make_worker as reporting_worker
from services.training.app import create_app as create_training
from services.training.settings import TrainingSettings
from services.training.worker import make_worker as training_worker
from shared.auth import LocalSigningKey, Role
from shared.files import private_umask, write_private
from shared.queue import ArqQueue
from shared.settings import ServiceSettings
from shared.signin import SIGN_IN_MINUTES, issue_sign_in_code, sign_in_link

SERVICES = ("beneficiary", "training", "reporting")
WORKERS = {
    "beneficiary": beneficiary_worker,
    "training": training_worker,
    "reporting": reporting_worker,
}
INTERNAL_URLS = {
    "beneficiary": {"training_url": "training"},
    "training": {"beneficiary_url": "beneficiary"},
    "reporting": {"beneficiary_url": "beneficiary", "training_url": "training"},
}
"""Each service's settings that name another service of the stack."""


def create_stack(*, base_url: str, load_demo: bool = True) -> Starlette:
    ready = asyncio.Event()
    apps: dict[str, FastAPI] = {
        "beneficiary": create_beneficiary(
            BeneficiarySettings(**_internal_urls("beneficiary", base_url))
        ),
        "training": create_training(
            TrainingSettings(**_internal_urls("training", base_url))
        ),
        "reporting": create_reporting(
            ReportingSettings(**_internal_urls("reporting", base_url))
        ),
    }

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            for name, make_worker in WORKERS.items():
                runtime = apps[name].state.runtime
                if isinstance(runtime.queue, ArqQueue):
                    worker = make_worker(runtime)
                    task = asyncio.create_task(worker.async_run())
                    stack.push_async_callback(_stop_worker, worker, task)
            if load_demo:
                task = asyncio.create_task(_load_demo(base_url, ready))
                stack.push_async_callback(_cancel, task)
            else:
                ready.set()
            yield

    async def index(_: Request) -> JSONResponse:
        return JSONResponse(
            {name: {"docs": f"{base_url}/{name}/docs"} for name in SERVICES}
        )

    async def healthz(_: Request) -> JSONResponse:
        """Ready once the demo is loaded: what the README's example waits for."""
        if not ready.is_set():
            return JSONResponse({"status": "loading demo data"}, status_code=503)
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [Route("/", index), Route("/healthz", healthz)]
    routes += [Mount(f"/{name}", app=app) for name, app in apps.items()]
    return Starlette(routes=routes, lifespan=lifespan)


def _internal_urls(service: str, base_url: str) -> dict[str, Any]:
    """The service's URLs of the other services, pointing at this stack
    unless the environment names them (e.g. ``REPORTING_TRAINING_URL``)."""
    return {
        setting: f"{base_url}/{target}"
        for setting, target in INTERNAL_URLS[service].items()
        if not os.environ.get(f"{service}_{setting}".upper())
    }


def stack_url(host: str, port: int) -> str:
    """Where this machine reaches a stack listening on ``host``: a wildcard
    address at loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _stop_worker(worker: Worker, task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.close()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _load_demo(base_url: str, ready: asyncio.Event) -> None:
    """Load the demo through the stack's own base URL once it serves (the
    services call each other while it loads), then write the tokens and
    print how to use them. A load that fails stops the stack: a newcomer
    sees why instead of waiting for it."""
    settings = ServiceSettings()
    if not settings.auth_jwks_url:
        try:
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
                orgs = await demo.seed(client, settings)
        except (demo.DemoError, httpx.HTTPError) as exc:
            print(f"error: the demo data did not load: {exc}", file=sys.stderr)  # noqa: T201
            signal.raise_signal(signal.SIGTERM)
            return
        tokens = demo.demo_tokens(settings, orgs)
        path = settings.data_dir / "demo-tokens.json"
        content = {"organisations": orgs, "tokens": tokens}
        write_private(path, json.dumps(content, indent=2).encode())
        _banner(base_url, path, orgs["lead"], settings)
    ready.set()


def _banner(base_url: str, path: Path, lead: str, settings: ServiceSettings) -> None:
    """What to do next, with commands that work as printed from any folder."""
    python = shlex.quote(sys.executable)
    tokens = shlex.quote(str(path.resolve()))
    data_dir = shlex.quote(str(path.parent.resolve()))
    dashboard = f"{base_url}/reporting/dashboard"
    link = sign_in_link(
        dashboard,
        issue_sign_in_code(
            LocalSigningKey.load_or_create(settings.data_dir),
            settings,
            subject="demo-me-officer",
            organisation_id=uuid.UUID(lead),
            roles=[Role.me_officer],
        ),
    )
    print(  # noqa: T201
        f"\nMHPSS platform running at {base_url} with the demo programme\n"
        f"  Dashboard: {dashboard}\n"
        f"    sign in as the demo M&E officer with this one-time link "
        f"({SIGN_IN_MINUTES} minutes):\n    {link}\n"
        f"    another: DATA_DIR={data_dir} {python} -m shared.tokens --org "
        f"{lead} --role me_officer --sub <you> --sign-in {dashboard}\n"
        f"  API docs: {base_url}/beneficiary/docs  {base_url}/training/docs  "
        f"{base_url}/reporting/docs\n"
        f"  Demo tokens ({demo.TOKEN_HOURS} hours, new at each start) are in "
        f"{path.resolve()}; for example:\n"
        f'    TOKEN=$({python} -c "import json,sys;print(json.load(open(sys.argv[1]))'
        f"['tokens']['case_worker'])\" {tokens})\n"
        f'    curl -H "Authorization: Bearer $TOKEN" '
        f"{base_url}/beneficiary/v1/beneficiaries\n"
        f"  Other tokens: DATA_DIR={data_dir} {python} -m shared.tokens "
        f"--org {lead} --role supervisor --sub amal\n",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.stack")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    private_umask()
    listener = _listen(args.host, args.port)
    app = create_stack(
        base_url=stack_url(args.host, args.port), load_demo=not args.no_demo
    )
    # X-Forwarded-For is the apps' to believe, from TRUSTED_PROXIES only
    config = uvicorn.Config(
        app, host=args.host, port=args.port, access_log=False, proxy_headers=False
    )
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """The stack's socket, bound before anything is loaded: a taken port
    stops it on one line, with no database created and no file written."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        sys.exit(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}")


if __name__ == "__main__":
    main()
