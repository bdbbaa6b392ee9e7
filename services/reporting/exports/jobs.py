"""``run_export``: write an export to a file, streaming, then mark it ready."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.access.service import Caller, loaded_sites
from services.reporting.catalogue.catalogue import indicators
from services.reporting.engine.ages import AgeBands
from services.reporting.engine.evaluator import Scope
from services.reporting.engine.store import FactStore
from services.reporting.exports.formats import CONTENT_TYPES, WRITERS, ExportInfo
from services.reporting.exports.models import Export
from services.reporting.exports.service import export_rows, months
from services.reporting.indicators.service import word
from services.reporting.settings import ReportingSettings
from shared.app import Runtime
from shared.db import utcnow
from shared.files import open_private, private_dir
from shared.i18n import Language, negotiate

log = structlog.get_logger(__name__)


def export_dir(settings: ReportingSettings) -> Path:
    return private_dir(settings.data_dir / settings.export_dir_name)


def caller_of(export: Export) -> Caller:
    """The requester's view, as recorded when the export was asked for."""
    return Caller(
        organisation_id=export.organisation_id,
        scope=Scope(
            organisations=frozenset({export.organisation_id}),
            sites=loaded_sites(export.scope_sites),
        ),
        record_level=not export.suppressed,
        indicators=None,
        subject=export.requested_by,
    )


def filter_words(
    store: FactStore, filters: dict[str, Any], language: Language
) -> dict[str, list[str]]:
    """What an export was narrowed to, in words: places and organisations
    by name in the export's language (never by id), codes by the
    catalogue's words."""
    places = store.places
    names = {
        **{str(key): name for key, name in places.organisations.items()},
        **{
            str(key): places.place_name(key, language.code) or name
            for key, name in places.names.items()
        },
    }
    return {
        dim: [word(language, dim, str(value), names) for value in values]
        for dim, values in filters.items()
    }


async def run_export(ctx: dict[str, Any], export_id: str) -> None:
    runtime: Runtime = ctx["runtime"]
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    store: FactStore | None = ctx.get("fact_store")
    if store is None:  # one copy per worker process, kept between exports
        store = ctx["fact_store"] = FactStore(runtime.engine, settings.snapshots)
    async with AsyncSession(runtime.engine, expire_on_commit=False) as session:
        export = await session.get(Export, uuid.UUID(export_id))
        if export is None or export.status == "ready":
            return
    _, extension = CONTENT_TYPES[export.format]
    target = export_dir(settings) / f"{export.id}.{extension}"
    partial = target.with_name(f"{export.id}.part")
    status, rows, error = "ready", 0, None
    try:  # everything computed from the request: nothing may leave it pending
        indicator = indicators()[export.indicator]
        language = Language(negotiate(export.lang, None))
        periods = (
            list(months(export.start, export.end))
            if export.monthly
            else [(export.start, export.end)]
        )
        table = await export_rows(
            store,
            settings,
            caller_of(export),
            indicator,
            periods=periods,
            by=export.by,
            filters=export.filters,
            suppress=export.suppressed,
            bands=AgeBands.parse(export.age_bands or settings.age_bands),
            language=language,
        )
        about = ExportInfo(
            indicator_id=indicator.id,
            name=language.text(f"indicator.{indicator.id}"),
            definition=language.text(f"definition.{indicator.id}"),
            version=indicator.version,
            unit=indicator.unit,
            start=export.start,
            end=export.end,
            monthly=export.monthly,
            filters=filter_words(store, export.filters, language),
            disaggregations=export.by,
            org_unit_level=table.place,
            suppression_threshold=table.suppression_threshold,
            generated_at=utcnow(),
            generated_by=export.requested_by,
            language=language.code,
        )
        with open_private(partial) as out:
            rows = WRITERS[export.format](
                table.rows, out, **table.layout(), about=about
            )
        partial.replace(target)
    except ValueError as exc:  # a period DHIS2 cannot name, a site with no
        # P-code for DHIS2, nothing to export
        status, error = "failed", str(exc)[:500]
        partial.unlink(missing_ok=True)
    except Exception:  # never left pending for ever; the log has the cause
        log.exception("export_failed", export_id=export_id)
        status, error = "failed", "The export failed; the service log has the cause."
        partial.unlink(missing_ok=True)
    async with AsyncSession(runtime.engine) as session, session.begin():
        export = await session.get(Export, uuid.UUID(export_id))
        if export is not None:
            export.status, export.rows, export.error = status, rows, error
            export.file_name = target.name if status == "ready" else None
            export.finished_at = utcnow()
    log.info("export_finished", export_id=export_id, status=status, rows=rows)
