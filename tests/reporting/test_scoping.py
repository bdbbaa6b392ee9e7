"""The reporting authorisation sweep: every route over the OpenAPI, with ids
in the path, the query and the body, called by

- another organisation's token and API key: nothing of this organisation;
- a token or API key limited to one site of this organisation: exactly what
  an organisation-wide caller saw when that site alone had data (no figure,
  export, feed row or key of another site), while the organisation-wide
  caller sees the other site's data too (the comparison is not empty);
- a revoked key (401 everywhere), a key on the key routes (401), a key
  scoped to some indicators on the others (403), and roles without the
  right (403).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.reporting.catalogue.catalogue import indicators
from services.reporting.exports.jobs import run_export
from services.reporting.facts.models import EVERYONE
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller, Org
from tests.sweep import Call, Route, assert_refused, routes

PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/exports"): {
        "indicator": "people_reached",
        "start": "2026-01-01",
        "end": "2026-12-31",
        "format": "json",
    },
    ("POST", "/v1/api-keys"): {"name": "intruder"},
}
SITED = sorted(i.id for i in indicators().values() if "site" in i.disaggregations)
"""Indicators with a site dimension: also asked by site and for one site."""
SERVED = ("services_delivered", "people_reached", "people_reached_anonymous")
"""What ``people_served_at`` counts."""
KEY_ROUTES = "/v1/api-keys"
Headers = dict[str, str]
Answers = dict[str, str]


async def people_served_at(
    caller: Caller, site: str, people: int, day: str, project: str | None = None
) -> None:
    """``people`` registered at the site, each served there once, and an
    awareness session there for twice as many unregistered people (enough
    for every cell to stay above the suppression threshold of 5), under
    ``project`` if one is named."""
    for _ in range(people):
        person = await make_beneficiary(caller, site_id=site, sex="female")
        await record_service(
            caller, person["id"], site_id=site, service_date=day, project_id=project
        )
    r = await caller.post(
        "/v1/anonymous-services",
        {
            "activity_code": "awareness_session",
            "service_date": day,
            "site_id": site,
            "counts": [{"sex": "female", "age_group": "adult", "count": 2 * people}],
            "project_id": project,
        },
    )
    assert r.status_code == 201, r.text


async def new_project(manager: Caller) -> str:
    """A project of the manager's organisation, for 2026, with targets."""
    r = await manager.post(
        "/v1/projects",
        {
            "name": "Resilience",
            "donor": "A ministry",
            "start": "2026-01-01",
            "end": "2026-12-31",
            "targets": [
                {"indicator": "people_reached", "target": 5},
                {"indicator": "services_delivered", "target": 8},
            ],
        },
    )
    assert r.status_code == 201, r.text
    project: str = r.json()["id"]
    return project


async def new_key(client: httpx.AsyncClient, manager: Caller, name: str) -> Any:
    body = {"name": name, "rate_per_minute": 6000}  # a sweep is not an abuse
    r = await client.post("/v1/api-keys", json=body, headers=manager.headers())
    assert r.status_code == 201, r.text
    return r.json()


def key_headers(issued: dict[str, Any]) -> Headers:
    return {"X-API-Key": issued["key"]}


def answer_of(r: httpx.Response) -> str:
    """The status and body, without what differs between two equal answers
    (when a file was written, and by whom: ``about``) or what is not the
    figures' (the location directory's names, which every caller may read);
    a feed's rows without a figure are left out too: touched months are kept
    per organisation, not per site, so a site-limited caller is re-sent, as
    zeros, months another site of its organisation changed (docs/security.md,
    known limits)."""
    try:
        body = r.json()
    except ValueError:
        return f"{r.status_code} {r.text}"
    if isinstance(body, dict):
        body.pop("exported_at", None)
        body.pop("about", None)
        if isinstance(body.get("rows"), list):
            body["rows"] = [row for row in body["rows"] if row["value"]]
        if "tables" in body:
            for table in body["tables"]:
                table["values"].pop("labels")
        body.pop("labels", None)
    return f"{r.status_code} {json.dumps(body, sort_keys=True)}"


@dataclass
class Sweep:
    """What one caller gets from every route, by request. ``ids``: another
    caller's export and key (path), another site (query and body)."""

    app: FastAPI
    client: httpx.AsyncClient
    headers: Headers
    ids: dict[str, str]

    async def get(self, path: str, params: dict[str, Any] | None = None) -> str:
        r = await self.client.get(path, params=params, headers=self.headers)
        return answer_of(r)

    async def export(self, filters: dict[str, list[str]]) -> str:
        body = {**BODIES[("POST", "/v1/exports")], "by": ["site"], "filters": filters}
        r = await self.client.post("/v1/exports", json=body, headers=self.headers)
        if r.status_code != 202:
            return answer_of(r)
        own = f"/v1/exports/{r.json()['id']}"
        await run_export({"runtime": self.app.state.runtime}, r.json()["id"])
        status = (await self.client.get(own, headers=self.headers)).json()
        assert "rows" in status, status
        return f"{status['status']} {status['rows']} {await self.get(own + '/file')}"

    async def keys(self) -> str:
        r = await self.client.get(KEY_ROUTES, headers=self.headers)
        if r.status_code != 200:
            return answer_of(r)
        return json.dumps(
            sorted([k["name"], k["site_ids"] or []] for k in r.json()["items"])
        )

    async def values(self, label: str) -> Answers:
        other_site = {"site": self.ids["site"]}
        answers: Answers = {}
        for indicator in indicators():
            path = f"/v1/indicators/{indicator}/values"
            answers[f"{label} {indicator}"] = await self.get(path, PERIOD)
            if indicator in SITED:
                by_site = {**PERIOD, "by": "site"}
                answers[f"{label} {indicator} by site"] = await self.get(path, by_site)
                at_other = {**PERIOD, **other_site}
                answers[f"{label} {indicator} at"] = await self.get(path, at_other)
        return answers

    async def feeds(self, label: str) -> Answers:
        answers: Answers = {}
        for indicator in SITED:
            path = f"/v1/feeds/{indicator}"
            answers[f"{label} {indicator}"] = await self.get(path, {"by": "site"})
            at = {"site": self.ids["site"]}
            answers[f"{label} {indicator} at"] = await self.get(path, at)
        return answers

    async def key_routes(self, route: Any, label: str) -> Answers:
        if label == "GET /v1/api-keys":
            return {label: await self.keys()}
        if label == "POST /v1/api-keys":
            r = await self.client.post(
                route.template, json={"name": "s"}, headers=self.headers
            )
            issued = r.json().get("site_ids") if r.status_code == 201 else r.text
            return {
                label: f"{r.status_code} {issued}",
                f"{label}, then GET": await self.keys(),
            }
        r = await self.client.delete(route.path(self.ids), headers=self.headers)
        return {label: answer_of(r), f"{label}, then GET": await self.keys()}

    async def route(self, route: Any) -> Answers:
        label = f"{route.method} {route.template}"
        if label == "GET /v1/indicators":
            return {label: await self.get(route.template)}
        if label == "GET /v1/indicators/{indicator_id}":
            return {
                f"{label} {indicator}": await self.get(f"/v1/indicators/{indicator}")
                for indicator in SITED
            }
        if label == "GET /v1/indicators/{indicator_id}/values":
            return await self.values(label)
        if label in ("GET /v1/overview", "GET /v1/overview/document"):
            return {label: await self.get(route.template, PERIOD)}
        if label == "POST /v1/exports":
            return {
                label: await self.export({}),
                f"{label} at": await self.export({"site": [self.ids["site"]]}),
            }
        if route.template.startswith("/v1/exports/{export_id}"):
            return {label: await self.get(route.path(self.ids))}
        if label == "GET /v1/exports":  # its own exports; never the other's
            r = await self.client.get(route.template, headers=self.headers)
            listed = r.json()["items"] if r.status_code == 200 else []
            others = [e for e in listed if e["id"] == self.ids.get("export_id")]
            return {label: f"{r.status_code} others' exports: {others}"}
        if label == "GET /v1/feeds/{indicator_id}":
            return await self.feeds(label)
        if route.template.startswith("/v1/api-keys"):
            return await self.key_routes(route, label)
        if label == "GET /v1/projects/{project_id}/progress":
            return {label: await self.get(route.path(self.ids))}
        raise AssertionError(f"add {label} to the reporting sweep")


async def sweep(
    app: FastAPI, client: httpx.AsyncClient, headers: Headers, ids: dict[str, str]
) -> Answers:
    """What one caller gets from every route, by request."""
    caller = Sweep(app, client, headers, ids)
    found: Answers = {}
    for route in routes(app):
        found.update(await caller.route(route))
    return found


async def sweep_all(
    app: FastAPI,
    client: httpx.AsyncClient,
    callers: dict[str, Headers],
    ids: dict[str, str],
) -> dict[str, Answers]:
    return {name: await sweep(app, client, h, ids) for name, h in callers.items()}


def figures(found: Answers) -> Answers:
    """The answers about data: not the key routes' (keys, not figures) nor
    another caller's export's (a 404, checked on its own) nor the caller's
    own exports listed."""
    return {
        k: v
        for k, v in found.items()
        if KEY_ROUTES not in k and "{export_id}" not in k and k != "GET /v1/exports"
    }


def refused_others(found: Answers) -> None:
    """Another caller's export and key are as good as absent."""
    for label in (
        "GET /v1/exports/{export_id}",
        "GET /v1/exports/{export_id}/file",
        "DELETE /v1/api-keys/{key_id}",
    ):
        assert found[label].split()[0] in {"404", "401"}, (label, found[label])
    assert found["GET /v1/exports"].endswith("others' exports: []")


def differing(a: Answers, b: Answers) -> set[str]:
    return {k for k in a if a[k] != b[k]}


async def foreign_export(client: httpx.AsyncClient, owner: Caller) -> str:
    r = await client.post(
        "/v1/exports", json=BODIES[("POST", "/v1/exports")], headers=owner.headers()
    )
    assert r.status_code == 202, r.text
    export_id: str = r.json()["id"]
    return export_id


@pytest.mark.long
async def test_another_organisation_sees_nothing_on_any_route(
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Callable[[], Awaitable[int]],
) -> None:
    """Another organisation's token and key get what they got before this
    organisation had any data; this organisation's export and key are 404."""
    theirs = issue(orgs["b"], Role.programme_manager, Role.me_officer)
    their_key = key_headers(await new_key(reporting_client, theirs, "theirs"))
    owner = issue(orgs["a"], Role.programme_manager)
    project = await new_project(owner)
    ids = {
        "export_id": await foreign_export(reporting_client, owner),
        "key_id": (await new_key(reporting_client, owner, "owner's"))["id"],
        "site": site_ids[0],
        "project_id": project,
    }
    callers = {"token": theirs.headers(), "key": their_key}
    before = await sweep_all(reporting_app, reporting_client, callers, ids)
    await people_served_at(alice, site_ids[0], 6, "2026-02-10", project)
    await catch_up()
    after = await sweep_all(reporting_app, reporting_client, callers, ids)
    for caller in ("token", "key"):
        assert figures(after[caller]) == figures(before[caller]), caller
        refused_others(after[caller])
    mine = await sweep(reporting_app, reporting_client, owner.headers(), ids)
    assert "GET /v1/overview" in differing(mine, after["token"])  # not empty


@pytest.mark.long
async def test_a_site_sees_nothing_of_another_site_on_any_route(
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Callable[[], Awaitable[int]],
) -> None:
    """A token or key limited to site 0 answers every route, with data at
    sites 0 and 1, exactly as an organisation-wide one did with data at site
    0 alone; an organisation-wide caller's answers do change (so each
    compared route shows site 1's data to someone)."""
    here, there = site_ids[0], site_ids[1]
    roles = (Role.programme_manager, Role.me_officer)
    everywhere = issue(orgs["a"], *roles)
    local = issue(orgs["a"], *roles, sites=[here])
    elsewhere = issue(orgs["a"], *roles, sites=[there])
    local_key = await new_key(reporting_client, local, "local")
    assert local_key["site_ids"] == [here]
    wide_key = await new_key(reporting_client, everywhere, "everywhere")
    elsewhere_key = await new_key(reporting_client, elsewhere, "elsewhere")
    project = await new_project(everywhere)
    ids = {
        "export_id": await foreign_export(reporting_client, everywhere),
        "key_id": elsewhere_key["id"],
        "site": there,
        "project_id": project,
    }
    await people_served_at(alice, here, 5, "2026-02-10", project)
    await catch_up()
    callers = {
        "token": everywhere.headers(),
        "key": key_headers(wide_key),
        "local token": local.headers(),
        "local key": key_headers(local_key),
    }
    before = await sweep_all(reporting_app, reporting_client, callers, ids)
    await people_served_at(alice, there, 6, "2026-03-10", project)
    await catch_up()
    after = await sweep_all(reporting_app, reporting_client, callers, ids)
    for kind in ("token", "key"):
        local_figures = figures(after[f"local {kind}"])
        assert local_figures == figures(before[kind]), kind
        refused_others(after[f"local {kind}"])
        seen_there = differing(figures(after[kind]), local_figures)
        assert seen_there >= {
            "GET /v1/overview",
            "GET /v1/overview/document",
            "POST /v1/exports",
            "POST /v1/exports at",
            "GET /v1/projects/{project_id}/progress",
            *(f"GET /v1/indicators/{{indicator_id}}/values {i}" for i in SERVED),
            *(f"GET /v1/feeds/{{indicator_id}} {i}" for i in SERVED),
        }, kind
    # the local manager's keys: its own (each issued with its sites), never
    # an organisation-wide key or another site's
    token = after["local token"]
    listed = json.loads(token["GET /v1/api-keys"])
    assert {name for name, _ in listed} == {"local", "s"}  # "s": its sweeps'
    assert all(sites == [here] for _, sites in listed)
    assert token["POST /v1/api-keys"] == f"201 {[here]}"
    assert json.loads(token["DELETE /v1/api-keys/{key_id}, then GET"]) == [
        ["local", [here]],
        ["s", [here]],
        ["s", [here]],
    ]
    r = await reporting_client.delete(
        f"{KEY_ROUTES}/{wide_key['id']}", headers=local.headers()
    )
    assert r.status_code == 404, r.text
    names = [k[0] for k in json.loads(after["token"]["GET /v1/api-keys"])]
    assert {"everywhere", "elsewhere", "local"} <= set(names)
    r = await reporting_client.get(KEY_ROUTES, headers=everywhere.headers())
    assert {k["name"]: k["revoked_at"] for k in r.json()["items"]}["everywhere"] is None


async def test_a_revoked_key_and_a_key_on_the_key_routes_are_refused(
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    manager = issue(orgs["a"], Role.programme_manager)
    live = await new_key(reporting_client, manager, "live")
    revoked = await new_key(reporting_client, manager, "revoked")
    r = await reporting_client.delete(
        f"/v1/api-keys/{revoked['id']}", headers=manager.headers()
    )
    assert r.status_code == 200, r.text
    ids = {
        "export_id": await foreign_export(reporting_client, manager),
        "key_id": live["id"],
        "indicator_id": "people_reached",
        "project_id": str(uuid.uuid4()),
    }

    def call(route: Route) -> Call:
        return Call(
            route.path(ids),
            route.read({**PERIOD, "site": site_ids[0]})
            if route.method == "GET"
            else {},
            BODIES.get((route.method, route.template)),
        )

    swept = routes(reporting_app)
    revoked_everywhere = await assert_refused(
        reporting_client, swept, {"revoked": key_headers(revoked)}, call, status=401
    )
    assert revoked_everywhere == len(swept) >= 10
    key_routes = [r for r in swept if r.template.startswith(KEY_ROUTES)]
    assert len(key_routes) == 3
    await assert_refused(
        reporting_client, key_routes, {"live": key_headers(live)}, call, status=401
    )
    r = await reporting_client.get(KEY_ROUTES, headers=manager.headers())
    assert {k["name"]: k["revoked_at"] for k in r.json()["items"]}["live"] is None


async def test_a_key_reads_no_other_indicator_on_any_route(
    issue: Any,
    orgs: dict[str, Org],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    """A key scoped to some indicators: every route that answers another
    indicator (the overview answers them all) is a 403."""
    manager = issue(orgs["a"], Role.programme_manager)
    body = {"name": "one", "indicators": ["people_reached"], "rate_per_minute": 600}
    r = await reporting_client.post(KEY_ROUTES, json=body, headers=manager.headers())
    assert r.status_code == 201, r.text
    key = key_headers(r.json())
    unknown = str(uuid.uuid4())
    ids = {
        "indicator_id": "services_delivered",
        "export_id": unknown,
        "key_id": unknown,
        "project_id": unknown,
    }

    def call(route: Route) -> Call:
        body = BODIES.get((route.method, route.template))
        if route.method == "POST":
            body = {
                **BODIES[("POST", "/v1/exports")],
                "indicator": "services_delivered",
            }
        return Call(
            route.path(ids), route.read(PERIOD) if route.method == "GET" else {}, body
        )

    def exempt(route: Route, caller: str) -> bool:
        """Routes that answer no one indicator, or not to keys (above)."""
        answers = "{indicator_id}" in route.template or route.template in {
            "/v1/overview",
            "/v1/overview/document",
            "/v1/exports",
        }
        own_exports = (route.method, route.template) == ("GET", "/v1/exports")
        return not answers or own_exports

    swept = routes(reporting_app)
    assert (
        await assert_refused(reporting_client, swept, {"key": key}, call, exempt=exempt)
        >= 6
    )
    listed = await reporting_client.get("/v1/indicators", headers=key)
    assert [i["id"] for i in listed.json()["items"]] == ["people_reached"]


NO_READING = (Role.outreach_worker, Role.platform_admin, Role.service)
"""Roles that read no figures (every other role reads, suppressed or not)."""
NO_KEYS = (
    Role.case_worker,
    Role.supervisor,
    Role.me_officer,
    Role.auditor,
    Role.trainer,
)
"""Roles that read figures but issue, list and revoke no keys."""


async def test_every_route_refuses_a_role_without_the_right(
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    manager = issue(orgs["a"], Role.programme_manager)
    ids = {
        "export_id": await foreign_export(reporting_client, manager),
        "key_id": (await new_key(reporting_client, manager, "owner's"))["id"],
        "indicator_id": "people_reached",
        "project_id": str(uuid.uuid4()),
    }
    callers = {
        str(role): issue(orgs["a"], role).headers() for role in NO_READING + NO_KEYS
    }
    here = site_ids[0]

    def call(route: Route) -> Call:
        body = BODIES.get((route.method, route.template))
        if route.method == "POST" and route.template == "/v1/exports":
            body = {**BODIES[("POST", "/v1/exports")], "filters": {"site": [here]}}
        query = route.read({**PERIOD, "site": here}) if route.method == "GET" else {}
        return Call(route.path(ids), query, body)

    def exempt(route: Route, role: str) -> bool:
        return role in NO_KEYS and not route.template.startswith(KEY_ROUTES)

    checked = await assert_refused(
        reporting_client, routes(reporting_app), callers, call, exempt=exempt
    )
    assert checked >= 40
    r = await reporting_client.get(KEY_ROUTES, headers=manager.headers())
    assert [k["name"] for k in r.json()["items"]] == ["owner's"]
    assert r.json()["items"][0]["revoked_at"] is None


async def test_a_feed_lists_no_month_only_another_organisation_touched(
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Callable[[], Awaitable[int]],
) -> None:
    theirs = issue(orgs["b"], Role.me_officer)
    await people_served_at(alice, site_ids[0], 1, "2026-02-10")
    await catch_up()
    r = await reporting_client.get(
        "/v1/feeds/services_delivered", headers=theirs.headers()
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == []


async def test_a_feed_re_sends_the_months_a_partner_touched_to_its_lead(
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Callable[[], Awaitable[int]],
) -> None:
    """Touched months are kept per organisation, never fewer than a caller
    needs: the partner's services count under its lead."""
    partner = issue(orgs["partner"], Role.case_worker)
    lead, other = (issue(orgs[o], Role.me_officer) for o in ("a", "b"))
    await people_served_at(partner, site_ids[0], 1, "2026-03-10")
    await catch_up()

    async def months(reader: Caller) -> set[str]:
        r = await reporting_client.get(
            "/v1/feeds/services_delivered", headers=reader.headers()
        )
        assert r.status_code == 200, r.text
        return {row["period_start"] for row in r.json()["rows"]}

    # registered in January (the default registration date), served in March
    assert await months(lead) == {"2026-01-01", "2026-03-01"}
    assert await months(other) == set()


async def test_months_touched_before_they_had_an_organisation_go_to_everyone(
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Callable[[], Awaitable[int]],
) -> None:
    """A row kept before migration 0003 names no organisation (EVERYONE):
    every caller's feed re-sends its month, as every feed did then."""
    await people_served_at(alice, site_ids[0], 1, "2026-02-10")
    await catch_up()
    async with reporting_app.state.engine.begin() as conn:
        head = (await conn.execute(text("SELECT seq FROM ingest_counter"))).scalar()
        await conn.execute(
            text(
                "INSERT INTO touched_period (seq, month, organisation_id, "
                "occurred_at) VALUES (:seq, '2026-05-01', :everyone, now())"
            ),
            {"seq": head, "everyone": EVERYONE},
        )
    theirs = issue(orgs["b"], Role.me_officer)
    r = await reporting_client.get(
        "/v1/feeds/services_delivered", headers=theirs.headers()
    )
    assert r.status_code == 200, r.text
    assert {row["period_start"] for row in r.json()["rows"]} == {"2026-05-01"}
