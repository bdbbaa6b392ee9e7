"""The dashboard as a browser shows it: the embedded stack on SQLite with its
demo data, headless Chromium, and every figure equal to what the overview API
answers for the same period and token."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    ConsoleMessage,
    Error,
    Page,
    Route,
    ViewportSize,
    sync_playwright,
)

from shared.auth import LocalSigningKey, Role
from shared.db import utcnow
from shared.i18n import catalogue
from shared.settings import ServiceSettings
from tests.smoke.browser import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parents[2]
HEADLINES = (
    "people_reached",
    "services_delivered",
    "new_beneficiaries",
    "people_reached_anonymous",
)
BAR_CHARTS = {  # data-chart: (indicator, disaggregation)
    "iasc": ("services_delivered", "iasc_layer"),
    "delivery": ("services_delivered", "delivered_through"),
    "activities": ("services_delivered", "activity"),
    "governorates": ("people_reached", "governorate"),
    "training": ("people_trained", "audience"),
}
INGEST_TIMEOUT = 120.0
START_TIMEOUT = 300.0
"""The first start loads the demo programme through the API before /healthz
answers (a minute on an idle laptop)."""


@dataclass
class Stack:
    base: str
    data_dir: Path
    tokens: dict[str, str]
    organisations: dict[str, str]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("DATABASE_URL", "REDIS_URL", "JWKS_URL"))
    }
    data_dir = tmp_path / "data"
    env["DATA_DIR"] = str(data_dir)
    log_path = tmp_path / "stack.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.stack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)  # 503 while the demo loads
        else:
            raise AssertionError(log_path.read_text()[-3000:])
        demo = json.loads((data_dir / "demo-tokens.json").read_text())
        yield Stack(base, data_dir, demo["tokens"], demo["organisations"])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def me_officer_token(stack: Stack) -> str:
    """The demo's M&E officer; signed here with the stack's key while the
    demo tokens have no such role."""
    if "me_officer" in stack.tokens:
        return stack.tokens["me_officer"]
    settings = ServiceSettings(data_dir=stack.data_dir)
    return LocalSigningKey.load_or_create(stack.data_dir).issue(
        subject="demo-me-officer",
        organisation_id=uuid.UUID(stack.organisations["lead"]),
        roles=[Role.me_officer],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(hours=1),
    )


def fetch_overview(stack: Stack, token: str, start: date, end: date) -> Any:
    response = httpx.get(
        f"{stack.base}/reporting/v1/overview",
        params={"start": start.isoformat(), "end": end.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def table(overview: Any, indicator: str, *by: str) -> Any:
    return next(
        t
        for t in overview["tables"]
        if t["values"]["indicator"] == indicator
        and t["values"]["disaggregations"] == list(by)
    )


def wait_for_ingestion(stack: Stack, token: str, start: date, end: date) -> Any:
    """The overview once reporting has the demo's people and, from its first
    feed pull, the locations (every demo site lies in a known governorate),
    and answers the same twice in a row."""
    deadline = time.monotonic() + INGEST_TIMEOUT
    previous = found = None
    while time.monotonic() < deadline:
        found = fetch_overview(stack, token, start, end)
        reached = table(found, "people_reached")["values"]["total"]["value"] or 0
        places = table(found, "people_reached", "governorate")["values"]["cells"]
        located = all(c["dims"]["governorate"] != "unknown" for c in places)
        if reached > 0 and located and found == previous:
            return found
        previous = found if reached > 0 and located else None
        time.sleep(1)
    pytest.fail(
        f"reporting did not ingest the demo data within {INGEST_TIMEOUT:.0f} s; "
        f"last overview: {json.dumps(found)[:1500]}"
    )


def show(page: Page, start: date, end: date, token: str | None = None) -> None:
    """Show a period; with ``token``, as a person pasting it would: signing
    out first if signed in, then under "Use a bearer token instead"."""
    if token is not None:
        if page.is_visible("#forget"):
            page.click("#forget")
        if page.get_attribute("#token-details", "open") is None:
            page.click("#token-details summary")
        page.fill("#token", token)
    page.fill("#start", start.isoformat())
    page.fill("#end", end.isoformat())
    page.click("#show")


def wait_until_ready(page: Page, start: date, end: date) -> None:
    page.wait_for_selector(
        f'#results[data-state="ready"][data-start="{start}"][data-end="{end}"]'
    )


def assert_dashboard_matches(page: Page, overview: Any) -> None:
    for indicator in HEADLINES:
        total = table(overview, indicator)["values"]["total"]
        figure = page.locator(f'[data-figure="{indicator}"]')
        if total["suppressed"]:
            assert figure.get_attribute("data-value") == "suppressed"
            assert figure.text_content() == "suppressed"
        else:
            assert float(figure.get_attribute("data-value") or "nan") == total["value"]
            assert figure.text_content() == f"{total['value']:,.0f}"
    sites = page.locator('[data-figure="sites_active"]').get_attribute("data-value")
    assert sites == str(overview["sites_active"])
    for chart, (indicator, dim) in BAR_CHARTS.items():
        values = table(overview, indicator, dim)["values"]
        expected = {
            c["dims"][dim]: "suppressed" if c["suppressed"] else c["value"]
            for c in values["cells"]
        }
        bars = page.eval_on_selector_all(
            f'[data-chart="{chart}"] [data-bar]',
            "bars => bars.map(b => [b.dataset.key, b.dataset.value])",
        )
        shown = {
            key: value if value == "suppressed" else float(value) for key, value in bars
        }
        if chart == "delivery":  # one split bar: only the parts it can draw
            expected = {k: v for k, v in expected.items() if v != "suppressed" and v}
        if chart == "activities":  # the top ten
            assert len(shown) == min(10, len(expected)), chart
            assert shown.items() <= expected.items(), chart
        else:
            assert shown == expected, chart
        rows = page.locator(f'[data-chart="{chart}"] tbody th').all_text_contents()
        labels = values["labels"].get(dim, {})
        assert set(rows) >= {labels[key] for key in expected if key in labels}, chart
    sex_age = table(overview, "people_reached", "sex", "age_group")["values"]
    segments = page.eval_on_selector_all(
        '[data-chart="sex-age"] [data-segment]',
        "segments => segments.map(s => [s.dataset.segment, s.dataset.value])",
    )
    assert {key: float(value) for key, value in segments} == {
        f"{c['dims']['sex']}|{c['dims']['age_group']}": c["value"]
        for c in sex_age["cells"]
        if not c["suppressed"] and c["value"]
    }


def assert_every_section_shows_figures(page: Page) -> None:
    """Issue 16: with the demo programme nothing on the dashboard is empty:
    every headline figure, every chart and every row of the figure tables
    has a value above zero."""
    for figure in page.locator("[data-figure]").all():
        name = figure.get_attribute("data-figure")
        value = figure.get_attribute("data-value") or ""
        assert value not in ("", "suppressed"), name
        assert float(value) > 0, name
    for chart in page.locator("figure[data-chart]").all():
        values = chart.locator("[data-bar], [data-segment]").evaluate_all(
            "nodes => nodes.map(n => n.dataset.value)"
        )
        drawn = [float(v) for v in values if v not in (None, "suppressed")]
        assert max(drawn, default=0) > 0, chart.get_attribute("data-chart")
    for table in ("#training-table", "#more-table"):
        rows = page.locator(f"{table} tbody tr[data-more]").all()
        assert rows, table
        for row in rows:
            shown = row.locator("td").text_content() or ""
            assert re.search(r"[1-9]", shown), (row.get_attribute("data-more"), shown)
    for section in ("materials", "feedback"):
        details = page.locator(f'[data-details="{section}"] .detail').all()
        assert details, section
        for detail in details:
            name = detail.get_attribute("data-table")
            assert detail.locator("[data-download]").count() == 1, name
            cells = detail.locator("tbody td").all_text_contents()
            assert any(re.search(r"[1-9]", c) for c in cells), (name, cells)


def assert_details_match(page: Page, overview: Any) -> None:
    """The materials and feedback tables show the overview's cells, each
    row named by its words."""
    for t in overview["tables"]:
        if t["section"] not in ("materials", "feedback"):
            continue
        values = t["values"]
        dims = values["disaggregations"]
        detail = page.locator(
            f'[data-table="{".".join([values["indicator"], *dims])}"]'
        )
        assert detail.locator("h3").text_content() == t["title"]
        rows = detail.locator("tbody th").all_text_contents()
        assert sorted(rows) == sorted(
            ", ".join(values["labels"][d][c["dims"][d]] for d in dims)
            for c in values["cells"]
        ), t["title"]


def test_dashboard_shows_the_overview(stack: Stack, tmp_path: Path) -> None:
    today = utcnow().date()
    start, end = today - timedelta(days=45), today  # within the demo's 15 months
    token = me_officer_token(stack)
    overview = wait_for_ingestion(stack, token, start, end)
    iasc = table(overview, "services_delivered", "iasc_layer")["values"]
    assert iasc["cells"], "the demo services have IASC layers"
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    def page_error(error: Error) -> None:
        problems.append(f"pageerror: {error}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", console)
            page.on("pageerror", page_error)
            refused = browser.new_page()
            in_address = refused.goto(f"{stack.base}/reporting/dashboard?token={token}")
            assert in_address is not None
            assert in_address.status == 400, "a token in the address is refused"
            assert token not in refused.content()
            refused.close()
            response = page.goto(f"{stack.base}/reporting/dashboard")
            assert response is not None
            assert response.status == 200
            assert response.headers["content-security-policy"].startswith(
                "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data:"
            )
            assert response.headers["x-content-type-options"] == "nosniff"
            assert page.input_value("#token") == ""

            year = (  # the period a newcomer sees first: the last year
                date.fromisoformat(page.input_value("#start")),
                date.fromisoformat(page.input_value("#end")),
            )
            wait_for_ingestion(stack, token, *year)
            show(page, *year, token=token)
            wait_until_ready(page, *year)
            assert_every_section_shows_figures(page)
            page.screenshot(path=tmp_path / "dashboard-year.png", full_page=True)

            show(page, start, end, token=token)
            wait_until_ready(page, start, end)
            assert "token" not in page.url, "the token never enters the address"
            stored = page.evaluate("sessionStorage.getItem('mhpss.dashboard.token')")
            assert stored == token, "kept in the tab, sent as Authorization"
            page.reload()
            assert page.input_value("#token") == token
            show(page, start, end)
            wait_until_ready(page, start, end)
            assert_dashboard_matches(page, overview)
            assert_details_match(page, overview)
            iasc_bars = page.locator('[data-chart="iasc"] [data-bar]')
            assert iasc_bars.count() == len(iasc["cells"])
            for figure in page.locator("figure[data-chart]").all():
                assert figure.locator("figcaption").text_content()
                svg = figure.locator("svg[role=img]")
                if svg.count():
                    assert svg.get_attribute("aria-label")
            page.screenshot(path=tmp_path / "dashboard.png", full_page=True)

            page.click("#document-button")
            page.wait_for_selector(f'#document-panel[data-start="{start}"]')
            document = page.frame_locator("#document-frame")
            assert document.locator("h1").text_content() == "Programme overview"
            period = document.locator("p").first.text_content() or ""
            assert period.startswith(f"{start} to {end}")

            auditor = stack.tokens["auditor"]
            show(page, *year, token=auditor)  # the year has the training
            page.wait_for_selector("#document-panel", state="hidden")
            wait_until_ready(page, *year)
            small = fetch_overview(stack, auditor, *year)
            audiences = table(small, "people_trained", "audience")["values"]
            assert any(c["suppressed"] for c in audiences["cells"]), (
                "the demo's small counts (trainees) are suppressed for an auditor"
            )
            assert_dashboard_matches(page, small)
            assert (
                "suppressed"
                in page.locator('[data-chart="training"] tbody').inner_text()
            )
            page.screenshot(path=tmp_path / "dashboard-suppressed.png", full_page=True)
            assert problems == []

            injected = '<img src="x" onerror="window.injected = 1">'

            def inject(route: Route) -> None:
                found = route.fetch().json()
                iasc_table = table(found, "services_delivered", "iasc_layer")
                names = iasc_table["values"]["labels"]["iasc_layer"]
                names.update(dict.fromkeys(names, injected))
                route.fulfill(json=found)

            page.route("**/reporting/v1/overview?*", inject)
            show(page, start, end, token=token)
            wait_until_ready(page, start, end)
            rows = page.locator('[data-chart="iasc"] tbody th').all_text_contents()
            assert rows == [injected] * len(iasc["cells"]), "labels stay text"
            assert page.evaluate("window.injected") is None
            page.unroute("**/reporting/v1/overview?*")

            show(page, start, end, token="not-a-token")
            page.wait_for_selector('#results[data-state="error"]', state="attached")
            rejected = httpx.get(
                f"{stack.base}/reporting/v1/overview",
                params={"start": start.isoformat(), "end": end.isoformat()},
                headers={"Authorization": "Bearer not-a-token"},
            )
            assert rejected.status_code == 401
            message = page.locator("#message")
            assert message.is_visible()
            assert rejected.json()["detail"] in (message.text_content() or "")
            assert "401" in (message.text_content() or "")
            assert page.locator("#results").is_hidden()
            page.screenshot(path=tmp_path / "dashboard-401.png")
            assert [p for p in problems if "status of 401" not in p] == []
        finally:
            browser.close()


CODES = (
    "female",
    "18_plus",
    "0_17",
    "not_disclosed",
    "idp",
    "Iasc",
    "unknown",
    "leaflet",
    "school_bag",
    "kmr",
    "participant_satisfaction",
    "trainee_satisfaction",
    "felt_safe",
)
RECENT = (  # issue 14's tables on the dashboard, by their words (the last
    # 45 days of the demo: leaflets at the latest group activities, no
    # training)
    "dashboard.materials_title",
    "dashboard.feedback_title",
    "table.materials_distributed.item.language",
    "table.practice_clients_reached",
    "item.leaflet",
    "language.ar",
    "form.participant_satisfaction",
    "question.felt_safe",
)
UUID = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}")
PHONE: ViewportSize = {"width": 375, "height": 800}


def no_overflow(page: Page) -> None:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths


def sign_in_link(stack: Stack, url: str) -> str:
    """A one-time link, made as a person running the stack would."""
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "shared.tokens",
            "--org",
            stack.organisations["lead"],
            "--role",
            "me_officer",
            "--sub",
            "amal.m-and-e",
            "--hours",
            "1",
            "--sign-in",
            url,
        ],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.endswith("JWKS_URL")},
            "DATA_DIR": str(stack.data_dir),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    link = made.stdout.strip()
    assert link.startswith(f"{url}#sign-in="), made
    return link


def test_a_one_time_link_signs_in_without_a_token(stack: Stack, tmp_path: Path) -> None:
    """The embedded default's sign-in: no token pasted, the code leaves the
    address at once and works once. Screenshots in the test's tmp_path."""
    today = utcnow().date()
    start, end = today - timedelta(days=45), today
    wait_for_ingestion(stack, me_officer_token(stack), start, end)
    dashboard = f"{stack.base}/reporting/dashboard"
    link = sign_in_link(stack, dashboard)
    code = link.split("#sign-in=")[1]
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(dashboard)
            assert page.is_visible("#sign-in-form")
            assert page.is_hidden("#token"), "the token field is tucked away"
            assert page.is_hidden("#forget"), "no one to sign out yet"
            assert page.text_content("#here") == dashboard
            page.screenshot(path=tmp_path / "sign-in.png")

            page.goto(f"{dashboard}?start={start}&end={end}#sign-in={code}")
            wait_until_ready(page, start, end)
            assert code not in page.url, "the code leaves the address at once"
            assert "#" not in page.url
            assert page.text_content("#who") == "Signed in as amal.m-and-e"
            assert page.is_hidden("#signed-out")
            token = page.evaluate("sessionStorage.getItem('mhpss.dashboard.token')")
            assert token
            assert token != code
            page.screenshot(path=tmp_path / "signed-in.png", full_page=True)

            again = browser.new_page()
            again.goto(f"{dashboard}?lang=ar#sign-in={code}")
            again.wait_for_selector("#message:not([hidden])")
            assert "تعذّر تسجيل الدخول" in (again.text_content("#message") or "")
            assert again.is_visible("#sign-in-form")
            assert again.is_hidden("#forget")
            assert (
                again.evaluate("sessionStorage.getItem('mhpss.dashboard.token')")
                is None
            )
            again.screenshot(path=tmp_path / "sign-in-used-ar.png")

            page.click("#forget")
            assert page.is_visible("#sign-in-form")
            assert (
                page.evaluate("sessionStorage.getItem('mhpss.dashboard.token')") is None
            )
            pasted = browser.new_page()
            pasted.goto(dashboard)
            pasted.fill("#sign-in-code", sign_in_link(stack, dashboard))
            pasted.fill("#start", start.isoformat())
            pasted.fill("#end", end.isoformat())
            pasted.click("#sign-in-button")
            wait_until_ready(pasted, start, end)
            assert pasted.is_visible("#who")
        finally:
            browser.close()
    assert problems == []


def visible_text(page: Page) -> str:
    return str(page.evaluate("document.body.innerText"))


@pytest.mark.parametrize("lang", ["ar", "ckb"])
def test_the_dashboard_and_documents_in_the_people_s_language(
    stack: Stack, tmp_path: Path, lang: str
) -> None:
    """Arabic and Kurdish, right to left, words instead of codes, at phone
    width; the subject-access document names places and organisations.
    Screenshots are kept in the test's tmp_path."""
    words = {k: v for k, v in catalogue(lang).items() if isinstance(v, str)}
    today = utcnow().date()
    start, end = today - timedelta(days=45), today
    token = me_officer_token(stack)
    overview = wait_for_ingestion(stack, token, start, end)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport=PHONE, locale=lang)
            response = page.goto(f"{stack.base}/reporting/dashboard?lang={lang}")
            assert response is not None
            assert response.headers["content-language"] == lang
            assert page.get_attribute("html", "dir") == "rtl"
            assert page.get_attribute("html", "lang") == lang
            assert page.locator("h1").text_content() == words["dashboard.title"]
            show(page, start, end, token=token)
            wait_until_ready(page, start, end)
            reached = page.locator('[data-figure="people_reached"]')
            total = table(overview, "people_reached")["values"]["total"]["value"]
            assert float(reached.get_attribute("data-value") or "nan") == total
            text = visible_text(page)
            assert words["sex.female"] in text
            assert words["dashboard.training_title"] in text
            for key in RECENT:
                assert words[key] in text, key
            for code in CODES:
                assert code not in text, code
            assert page.locator("[data-download]").count() >= 10
            no_overflow(page)
            for section in ("materials", "feedback"):
                page.locator(f"#{section}").screenshot(
                    path=tmp_path / f"dashboard-{lang}-phone-{section}.png"
                )
            page.screenshot(path=tmp_path / f"dashboard-{lang}-phone-top.png")
            page.locator('[data-chart="sex-age"]').screenshot(
                path=tmp_path / f"dashboard-{lang}-phone-sex-age.png"
            )
            page.screenshot(
                path=tmp_path / f"dashboard-{lang}-phone.png", full_page=True
            )

            page.set_viewport_size({"width": 1280, "height": 900})
            wait_until_ready(page, start, end)
            no_overflow(page)
            page.screenshot(
                path=tmp_path / f"dashboard-{lang}-desktop.png", full_page=True
            )
            page.set_viewport_size(PHONE)

            page.select_option("#filter-sex", "female")
            show(page, start, end)
            page.wait_for_url(re.compile(r"[?&]sex=female"))
            wait_until_ready(page, start, end)
            women = httpx.get(
                f"{stack.base}/reporting/v1/overview",
                params={"start": str(start), "end": str(end), "sex": "female"},
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            expected = table(women, "people_reached")["values"]["total"]["value"]
            assert float(reached.get_attribute("data-value") or "nan") == expected

            page.click("#document-button")
            page.wait_for_selector(f'#document-panel[data-start="{start}"]')
            document = page.frame_locator("#document-frame")
            assert document.locator("html").get_attribute("dir") == "rtl"
            assert document.locator("h1").text_content() == words["overview.title"]
            shown = document.locator("body").inner_text()
            assert words["sex.female"] in shown
            assert words["section.iasc"] in shown
            assert words["definition.people_reached"] in shown
            # narrowed to women: materials and feedback have no sex, so
            # their tables are left out rather than shown unfiltered
            assert words["section.materials"] not in shown
            assert words["section.feedback"] not in shown
            for code in CODES:
                assert code not in shown, code
            page.locator("#document-panel").screenshot(
                path=tmp_path / f"overview-{lang}.png"
            )

            supervisor = stack.tokens["supervisor"]
            people = httpx.get(
                f"{stack.base}/beneficiary/v1/beneficiaries",
                headers={"Authorization": f"Bearer {supervisor}"},
            ).json()["items"]
            person = next(p for p in people if p.get("site_id"))
            access = browser.new_page(
                viewport={"width": 1000, "height": 900},
                extra_http_headers={
                    "Authorization": f"Bearer {supervisor}",
                    "X-Access-Reason": "subject access request, browser test",
                    "Accept-Language": f"{lang}, en;q=0.5",
                },
            )
            answered = access.goto(
                f"{stack.base}/beneficiary/v1/beneficiaries/{person['id']}"
                "/subject-access?format=html"
            )
            assert answered is not None
            assert answered.status == 200
            assert answered.headers["content-language"] == lang
            assert access.get_attribute("html", "dir") == "rtl"
            shown = visible_text(access)
            assert UUID.findall(shown) == []
            site = httpx.get(
                f"{stack.base}/beneficiary/v1/locations/{person['site_id']}",
                headers={"Authorization": f"Bearer {supervisor}"},
            ).json()
            assert site["name"] in shown
            assert words["field.service_records"] in shown
            access.screenshot(
                path=tmp_path / f"subject-access-{lang}.png", full_page=True
            )
        finally:
            browser.close()


def test_the_dashboard_follows_the_organisation_s_default_language(
    stack: Stack, tmp_path: Path
) -> None:
    """The language named in the address, else the one saved from the
    menu, else the browser's (Accept-Language), else the organisation's
    default once signed in, else English: the order every document
    follows (docs/languages.md)."""
    today = utcnow().date()
    start, end = today - timedelta(days=45), today
    token = me_officer_token(stack)
    wait_for_ingestion(stack, token, start, end)
    admin = {"Authorization": f"Bearer {stack.tokens['admin']}"}
    path = f"{stack.base}/beneficiary/v1/organisations/{stack.organisations['lead']}"
    read = httpx.get(path, headers=admin, timeout=10)
    changed = httpx.patch(
        path,
        json={"default_language": "ar"},
        headers=admin | {"If-Match": read.headers["etag"]},
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    deadline = time.monotonic() + 2 * INGEST_TIMEOUT
    while time.monotonic() < deadline:  # reporting copies it within minutes
        answered = httpx.get(
            f"{stack.base}/reporting/v1/overview",
            params={"start": str(start), "end": str(end)},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        if answered.headers["content-language"] == "ar":
            break
        time.sleep(2)
    else:
        pytest.fail("reporting did not copy the default language")
    words = {k: v for k, v in catalogue("ar").items() if isinstance(v, str)}
    dashboard = f"{stack.base}/reporting/dashboard"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            # a browser asking for a language we do not have
            french = browser.new_context(
                locale="fr-FR", viewport={"width": 1280, "height": 900}
            )
            page = french.new_page()
            first = page.goto(dashboard)
            assert first is not None
            assert first.request.headers["accept-language"].startswith("fr")
            assert page.get_attribute("html", "lang") == "en"
            assert page.get_attribute("html", "data-language") == "default"
            show(page, start, end, token=token)
            page.wait_for_url(re.compile(r"[?&]lang=ar"))
            wait_until_ready(page, start, end)
            assert page.get_attribute("html", "dir") == "rtl"
            assert page.locator("h1").text_content() == words["dashboard.title"]
            assert words["dashboard.materials_title"] in visible_text(page)
            page.screenshot(path=tmp_path / "dashboard-default-ar.png", full_page=True)

            # a language chosen from the menu is kept for the next visit
            with page.expect_navigation():
                page.select_option("#language", "ckb")
            wait_until_ready(page, start, end)
            assert page.get_attribute("html", "lang") == "ckb"
            page.goto(dashboard)
            page.wait_for_url(re.compile(r"[?&]lang=ckb"))
            assert page.get_attribute("html", "lang") == "ckb"
            page.goto(f"{dashboard}?lang=fr")  # not one we have: no choice
            page.wait_for_url(re.compile(r"[?&]lang=ckb"))
            assert page.get_attribute("html", "lang") == "ckb"
            french.close()

            # the browser's language wins over the organisation's default
            english = browser.new_context(locale="en-US")
            page = english.new_page()
            page.goto(dashboard)
            assert page.get_attribute("html", "data-language") == "chosen"
            show(page, start, end, token=token)
            wait_until_ready(page, start, end)
            assert page.get_attribute("html", "lang") == "en"
            assert "lang=en" in page.url
            assert page.locator("h1").text_content() == "Programme dashboard"
            english.close()
        finally:
            browser.close()
