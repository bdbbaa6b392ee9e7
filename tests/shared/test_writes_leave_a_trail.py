"""A route cannot forget its audit row: writes go through ``Once.answer``
(transaction, audit trail, announce after commit) and audited reads through
``AuditLog.read``, never a hand-rolled ``once.act`` or ``audit_log.record``.

The check reads the routers' source (their syntax tree), so it also catches
a route no test calls yet.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HAND_ROLLED = {"once.act", "audit_log.record", "record_access"}
"""Calls that are ``Once.answer``'s or ``AuditLog.read``'s job in a router."""

ALLOWED: dict[str, str] = {
    # Single handlers that cannot use Once.answer (the handler says why too).
    "services/beneficiary/protection/retention/router.py::reset_retention_policy": (
        "a DELETE takes no Idempotency-Key, so there is no Once to answer with"
    ),
    "services/beneficiary/protection/retention/router.py::start_retention_run": (
        "a run commits batch by batch (commits_itself), not in one transaction"
    ),
    "services/reporting/access/router.py::issue_key": (
        "reporting has no outbox for Once.answer to announce to (nor an audit table)"
    ),
    "services/reporting/exports/router.py::request_export": (
        "reporting has no outbox for Once.answer to announce to (nor an audit table)"
    ),
}
"""Where a hand-rolled write or audit row may stay, and why: a module path,
or ``path::handler`` for one handler."""


def hand_rolled(source: str) -> list[tuple[str, str]]:
    """(top-level function, call) for each hand-rolled call in a module."""
    found = []
    for top in ast.parse(source).body:
        if not isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(top):
            if not isinstance(node, ast.Call):
                continue
            call = node.func
            if isinstance(call, ast.Attribute) and isinstance(call.value, ast.Name):
                name = f"{call.value.id}.{call.attr}"
            elif isinstance(call, ast.Name):
                name = call.id
            else:
                continue
            if name in HAND_ROLLED:
                found.append((top.name, name))
    return sorted(found)


def routers() -> list[Path]:
    return sorted(
        p
        for p in (ROOT / "services").rglob("*.py")
        if p.name == "router.py" or p.name.endswith("_router.py")
    )


def offences() -> dict[str, list[str]]:
    """Hand-rolled calls per module and per ``module::handler``."""
    by_key: dict[str, list[str]] = {}
    for path in routers():
        module = path.relative_to(ROOT).as_posix()
        for handler, call in hand_rolled(path.read_text()):
            by_key.setdefault(module, []).append(f"{handler}: {call}")
            by_key.setdefault(f"{module}::{handler}", []).append(call)
    return by_key


def test_no_router_hand_rolls_a_write_or_an_audit_row() -> None:
    assert len(routers()) > 20  # the scan sees the routers
    forgotten = [
        f"{key}: {call}"
        for key, calls in offences().items()
        if "::" in key and key not in ALLOWED and key.split("::")[0] not in ALLOWED
        for call in calls
    ]
    assert not forgotten, (
        "Use once.answer / once.answer_versioned for a write and "
        "audit_log.read for an audited read (or allow-list it, saying why): "
        + ", ".join(forgotten)
    )


def test_the_allow_list_names_only_what_is_still_hand_rolled() -> None:
    """So it shrinks as routes are converted."""
    stale = sorted(set(ALLOWED) - set(offences()))
    assert not stale, f"Nothing hand-rolled here any more: drop {stale}"


def test_the_check_sees_a_forgotten_audit() -> None:
    source = """
async def create(session, once, actor):
    async def act():
        audit_log.record(session, actor, "create", "thing", [1])
    async with session.begin():
        await once.act(actor.principal, "POST /v1/things", None, act, load)

async def read(session):
    record_access(session, Entry, actor, action="read", entity_type="x", entity_ids=[])

async def fine(once):
    return await once.answer(p, "POST /v1/x", None, act, load, render, audit=None)
"""
    assert hand_rolled(source) == [
        ("create", "audit_log.record"),
        ("create", "once.act"),
        ("read", "record_access"),
    ]
