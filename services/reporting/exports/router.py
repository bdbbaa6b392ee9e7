"""Exports (``/v1/exports``: a job writes the file, fetched by id) and the
integrator feed (``/v1/feeds``: monthly values changed since a cursor)."""

from __future__ import annotations

import io
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.access.service import (
    Caller,
    CallerDep,
    CallerLanguage,
    default_language,
    stored_sites,
)
from services.reporting.db import OnceDep
from services.reporting.exports.formats import (
    CONTENT_TYPES,
    FILE_RESPONSE,
    WRITERS,
    NoOrgUnitCode,
    NothingToExport,
    month_end,
)
from services.reporting.exports.jobs import export_dir, run_export
from services.reporting.exports.models import Export
from services.reporting.exports.service import (
    check_org_unit_codes,
    export_rows,
)
from services.reporting.facts.models import (
    EVERYONE,
    IngestCounter,
    OrganisationDim,
    TouchedPeriod,
)
from services.reporting.indicators.service import (
    AGE_BANDS_HELP,
    age_bands,
    check_query,
    get_indicator,
    parse_filters,
    store_of,
)
from services.reporting.settings import ReportingSettings
from shared.app import RuntimeDep, checks_own_query
from shared.contracts.text import Text
from shared.db import SessionDep, utcnow
from shared.deprecation import either, renamed_to
from shared.errors import (
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    problem_responses,
)
from shared.i18n import asked, negotiate
from shared.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    aware_datetime,
    keyset_page,
)

router = APIRouter(tags=["exports and feeds"])
Format = Literal["json", "csv", "hxl", "xlsx", "dhis2", "adx"]


Code = Annotated[Text, Field(max_length=64)]


class ExportRequest(BaseModel):
    """An indicator export to build in the background."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "indicator": "people_reached",
                    "start": "2026-01-01",
                    "end": "2026-03-31",
                    "by": ["sex", "age_group"],
                    "format": "csv",
                    "age_bands": "0-17,18-59,60+",
                }
            ]
        }
    )

    indicator: Code
    start: date
    end: date
    by: list[Code] = Field(default_factory=list, max_length=3)
    filters: dict[Code, list[Annotated[Text, Field(max_length=200)]]] = Field(
        default_factory=dict
    )
    format: Format = "csv"
    age_bands: Annotated[Text, Field(max_length=200)] | None = Field(
        default=None, description=AGE_BANDS_HELP
    )
    monthly: bool = Field(default=False, description="One value set per month.")
    suppress: bool = Field(
        default=False, description="Suppress small cells even with record access."
    )
    lang: Annotated[Text, Field(max_length=35)] | None = Field(
        default=None,
        description="Language of the label columns and the About sheet: en, "
        "ar or ckb (else the request's Accept-Language, else the "
        "organisation's default language, else English). Codes are the same "
        "in every language.",
    )


class ExportStatus(BaseModel):
    """An export's progress and, when done, where to download it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "dd0979a9-072e-4956-9d51-c0eedab4f3e6",
                    "indicator": "services_delivered",
                    "format": "csv",
                    "start": "2026-01-01",
                    "end": "2026-06-30",
                    "created_at": "2026-01-10T09:12:53.217938Z",
                    "status": "ready",
                    "rows": 10,
                    "error": None,
                    "download": "https://mhpss.example.org/reporting/v1/exports/dd0979a9-072e-4956-9d51-c0eedab4f3e6/file",
                }
            ]
        }
    )

    id: uuid.UUID
    indicator: str
    format: str
    start: date
    end: date
    created_at: datetime
    status: str = Field(description="pending, ready or failed")
    rows: int | None
    error: str | None
    download: str | None


def _status(export: Export, request: Request) -> ExportStatus:
    return ExportStatus(
        id=export.id,
        indicator=export.indicator,
        format=export.format,
        start=export.start,
        end=export.end,
        created_at=export.created_at,
        status=export.status,
        rows=export.rows,
        error=export.error,
        download=str(request.url_for("download_export", export_id=export.id))
        if export.status == "ready"
        else None,
    )


@router.post(
    "/v1/exports",
    status_code=202,
    response_model=ExportStatus,
    responses=problem_responses(NotFound, Forbidden),
)
async def request_export(
    body: ExportRequest,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    once: OnceDep,
) -> ExportStatus:
    """Queue an export; poll ``GET /v1/exports/{id}`` until it is ready. A
    retry with the same Idempotency-Key answers the first export's status."""
    if caller.scope.teams is not None:
        raise Forbidden("An export keeps no team scope: a team-scoped token asks none.")
    indicator = get_indicator(body.indicator)
    caller.may_read(indicator.id)
    bands = age_bands(body.age_bands, request.app.state.settings)
    check_query(indicator, body.start, body.end, body.by, body.filters, bands)
    await check_org_unit_codes(store_of(request.app), caller, body.by, body.format)
    lang = asked(body.lang, request.headers.get("accept-language")) or negotiate(
        None, None, await default_language(runtime, caller)
    )

    async def create() -> Export:
        export = Export(
            organisation_id=caller.organisation_id,
            requested_by=caller.subject,
            api_key_id=caller.api_key_id,
            indicator=indicator.id,
            format=body.format,
            start=body.start,
            end=body.end,
            by=body.by,
            filters=body.filters,
            monthly=body.monthly,
            suppressed=body.suppress or not caller.record_level,
            scope_sites=stored_sites(caller.scope.sites),
            age_bands=bands.text,
            lang=lang,
        )
        session.add(export)
        return export

    async def load(existing: uuid.UUID) -> Export:
        return _mine(await session.get(Export, existing), caller)

    # not Once.answer: it announces to an outbox, and reporting has none
    async with session.begin():
        export, replayed = await once.act(
            caller,
            "POST /v1/exports",
            body,
            create,
            load,
        )
    if not replayed:
        await runtime.queue.enqueue(
            run_export.__name__, job_id=f"export:{export.id}", export_id=str(export.id)
        )
    return _status(export, request)


def _mine(export: Export | None, caller: Caller) -> Export:
    """Only who asked for an export reads it: it was made with their access
    (an unsuppressed export is not for an API key or an auditor)."""
    if (
        export is None
        or export.organisation_id != caller.organisation_id
        or export.requested_by != caller.subject
    ):
        raise NotFound("There is no such export.")
    return export


async def _own_export(
    session: SessionDep, caller: CallerDep, export_id: uuid.UUID
) -> Export:
    async with session.begin():
        return _mine(await session.get(Export, export_id), caller)


@router.get("/v1/exports", response_model=Page[ExportStatus])
async def list_exports(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ExportStatus]:
    """The exports you asked for, the latest first (an export is made with
    its requester's access, so no one else's is listed)."""
    async with session.begin():
        page = await keyset_page(
            session,
            select(Export).where(
                col(Export.organisation_id) == caller.organisation_id,
                col(Export.requested_by) == caller.subject,
            ),
            key=col(Export.created_at),
            parse_key=aware_datetime,
            cursor=cursor,
            limit=limit,
        )
    rows, next_cursor = page
    return Page(items=[_status(e, request) for e in rows], next_cursor=next_cursor)


@router.get(
    "/v1/exports/{export_id}",
    response_model=ExportStatus,
    responses=problem_responses(NotFound),
)
async def read_export(
    export_id: uuid.UUID, request: Request, session: SessionDep, caller: CallerDep
) -> ExportStatus:
    """An export's progress; when done, it names the download."""
    return _status(await _own_export(session, caller, export_id), request)


@router.get(
    "/v1/exports/{export_id}/file",
    name="download_export",
    response_class=Response,
    responses={**FILE_RESPONSE, **problem_responses(NotFound, Conflict)},
)
async def download_export(
    export_id: uuid.UUID, request: Request, session: SessionDep, caller: CallerDep
) -> FileResponse:
    """The finished export file, in the media type of its format."""
    export = await _own_export(session, caller, export_id)
    if export.status != "ready" or export.file_name is None:
        raise Conflict(f"This export is {export.status}, not ready.")
    settings: ReportingSettings = request.app.state.settings
    media, extension = CONTENT_TYPES[export.format]
    return FileResponse(
        export_dir(settings) / export.file_name,
        media_type=media,
        filename=f"{export.indicator}-{export.start}-{export.end}.{extension}",
    )


async def feed_organisations(
    session: AsyncSession, caller: Caller
) -> set[uuid.UUID] | None:
    """Whose touched months a caller's feed re-sends: its own organisation's,
    its partners' (their services count under it), its lead's (the lead
    trains its partners' staff), and those kept before months had an
    organisation. Never another organisation's: when their data changed is
    theirs to know."""
    organisations = caller.scope.organisations
    if organisations is None:
        return None
    dim = OrganisationDim
    related = await session.execute(
        select(col(dim.id), col(dim.lead_organisation_id)).where(
            or_(
                col(dim.id).in_(organisations),
                col(dim.lead_organisation_id).in_(organisations),
            )
        )
    )
    linked = {
        other
        for organisation, lead in related.all()
        for other in (organisation, lead)
        if other is not None
    }
    return set(organisations) | linked | {EVERYONE}


@router.get(
    "/v1/feeds/{indicator_id}",
    response_class=Response,
    responses={**FILE_RESPONSE, **problem_responses(NotFound)},
)
@checks_own_query
async def indicator_feed(
    indicator_id: str,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    language: CallerLanguage,
    cursor: Annotated[
        int | None,
        Query(ge=0, description="The X-Feed-Cursor of your last pull; 0 at first."),
    ] = None,
    by: Annotated[list[Code] | None, Query()] = None,
    format: Annotated[Format, Query()] = "json",
    suppress: bool = False,
    age_bands_text: Annotated[
        Text | None,
        Query(alias="age_bands", max_length=200, description=AGE_BANDS_HELP),
    ] = None,
    since: Annotated[int | None, renamed_to("cursor", ge=0)] = None,
) -> Response:
    """Monthly values of the months whose figures changed after ``cursor``
    (late data and corrections included): replace what you hold for those
    months. The response's ``X-Feed-Cursor`` is your next ``cursor``."""
    after = either(cursor, since, new="cursor", old="since") or 0
    indicator = get_indicator(indicator_id)
    caller.may_read(indicator.id)
    dims = [d.strip() for value in by or [] for d in value.split(",") if d.strip()]
    filters = parse_filters(
        {k: request.query_params.getlist(k) for k in request.query_params},
        indicator.disaggregations,
    )
    async with session.begin():
        head = (await session.execute(select(col(IngestCounter.seq)))).scalar() or 0
        if after > head:
            raise BadRequest("This cursor is ahead of the feed; start from 0.")
        touched = select(col(TouchedPeriod.month)).where(
            col(TouchedPeriod.seq) > after, col(TouchedPeriod.seq) <= head
        )
        organisations = await feed_organisations(session, caller)
        if organisations is not None:
            touched = touched.where(
                col(TouchedPeriod.organisation_id).in_(organisations)
            )
        changed = sorted(
            m
            for (m,) in await session.execute(
                touched.group_by(col(TouchedPeriod.month))
            )
        )
    periods = [(m, month_end(m)) for m in changed]
    today = utcnow().date()  # an empty feed checks its query all the same
    first, last = (periods[0][0], periods[-1][1]) if periods else (today, today)
    bands = age_bands(age_bands_text, request.app.state.settings)
    check_query(indicator, first, last, dims, filters, bands)
    table = await export_rows(
        store_of(request.app),
        request.app.state.settings,
        caller,
        indicator,
        periods=periods,
        by=dims,
        filters=filters,
        suppress=suppress or not caller.record_level,
        bands=bands,
        language=language,
    )
    out = io.BytesIO()
    media, _ = CONTENT_TYPES[format]
    try:
        WRITERS[format](table.rows, out, **table.layout())
    except NothingToExport:  # ADX cannot be empty: nothing changed to send
        return Response(status_code=204, headers={"X-Feed-Cursor": str(head)})
    except NoOrgUnitCode as exc:
        raise Invalid(
            str(exc),
            errors=[FieldError(loc=["query", "by"], msg="no P-code", type="by")],
        ) from None
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return Response(
        out.getvalue(),
        media_type=media,
        headers={"X-Feed-Cursor": str(head), "Content-Language": language.code},
    )
