"""``python -m services.beneficiary locations-load FILE --country LY
[--mapping MAPPING.json] [--sheet NAME]``: a country's COD-AB table into the
place tree, as ``POST /v1/locations/gazetteer`` does (same checks, same
idempotence), for an operator at the server."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.beneficiary.locations import gazetteer
from shared.cli import Command


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="CSV (UTF-8) or XLSX gazetteer")
    parser.add_argument(
        "--country", required=True, help="ISO 3166-1 alpha-2, e.g. IQ, LY, SY"
    )
    parser.add_argument(
        "--mapping",
        type=Path,
        help='JSON: {"levels": {"1": {"pcode": ..., "names": {"en": ...}}}}'
        " (default: COD-AB's ADMn_PCODE/ADMn_EN/ADMn_AR columns)",
    )
    parser.add_argument("--sheet", help="XLSX sheet (default: the first)")


async def _run(engine: AsyncEngine, args: argparse.Namespace) -> dict[str, object]:
    rows = gazetteer.read_table(args.file, args.sheet)
    if not rows:
        raise ValueError(f"{args.file} has no rows")
    if args.mapping:
        mapping = gazetteer.ColumnMapping.model_validate_json(args.mapping.read_text())
    else:
        mapping = gazetteer.cod_ab_mapping(rows[0])
    units = gazetteer.units_of(rows, args.country.upper(), mapping)
    async with AsyncSession(engine) as session, session.begin():
        report = await gazetteer.load_units(session, units)
    return {"file": str(args.file), "country": args.country.upper(), **report.as_json()}


LOCATIONS_LOAD = Command(
    help="load a country's admin 1-3 units from a COD-AB table (idempotent)",
    arguments=_arguments,
    run=_run,
)
