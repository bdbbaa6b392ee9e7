"""Loading a country's administrative units from an OCHA COD-AB-shaped table
(admin 1 to 3, P-codes, names per language), by command or by the API.

A COD-AB gazetteer has one row per unit of its lowest level, with the
columns of every level above it: ``ADM1_PCODE, ADM1_EN, ADM1_AR, ADM2_PCODE,
...``. Column spelling varies by country and edition, so the columns come
from a mapping (``ColumnMapping``), with the usual spellings as the default.
Loading is keyed on the P-code and safe to repeat: a second load of the same
file changes nothing; a newer edition renames units and adds new ones. Units
are never deleted (records point at them). Shape and example: docs/locations.md.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.locations.models import Location
from shared.contracts.enums import LocationLevel
from shared.errors import FieldError, Invalid
from shared.i18n import ENGLISH, LANGUAGES

ADMIN_LEVELS = {
    1: LocationLevel.governorate,
    2: LocationLevel.district,
    3: LocationLevel.subdistrict,
}
MAX_ROWS = 20_000


class LevelColumns(BaseModel):
    """Which columns hold one level's P-code and its name per language."""

    model_config = ConfigDict(extra="forbid")

    pcode: str = Field(min_length=1, max_length=100)
    names: dict[str, str] = Field(
        description="Language (en, ar, ckb) -> column; en is required.",
        min_length=1,
    )


class ColumnMapping(BaseModel):
    """Admin level (1-3) -> its columns. Levels left out are not loaded."""

    model_config = ConfigDict(extra="forbid")

    levels: dict[int, LevelColumns] = Field(min_length=1, max_length=3)


def cod_ab_mapping(columns: Iterable[str]) -> ColumnMapping:
    """The usual COD-AB spelling (matched without regard to case), for the
    levels whose P-code column the table has."""
    heads = {str(c).strip().lower() for c in columns}
    levels = [n for n in (1, 2, 3) if f"adm{n}_pcode" in heads]
    if not levels:
        raise _problem(
            "the table has no ADM1_PCODE column: send a mapping of its columns",
            None,
            "levels",
            "missing",
        )
    return ColumnMapping(
        levels={
            n: LevelColumns(
                pcode=f"ADM{n}_PCODE",
                names={"en": f"ADM{n}_EN", "ar": f"ADM{n}_AR"},
            )
            for n in levels
        }
    )


@dataclass
class LoadReport:
    added: int = 0
    renamed: int = 0
    unchanged: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    changed_ids: list[uuid.UUID] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "renamed": self.renamed,
            "unchanged": self.unchanged,
            "by_level": self.by_level,
        }


@dataclass(frozen=True)
class Unit:
    pcode: str
    level: int
    names: dict[str, str]
    parent_pcode: str | None


def read_table(path: Path, sheet: str | None = None) -> list[dict[str, str]]:
    """Rows of a CSV (UTF-8, with or without BOM) or an XLSX sheet."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        rows = book[sheet] if sheet else book.worksheets[0]
        lines = [
            ["" if v is None else str(v).strip() for v in row]
            for row in rows.iter_rows(values_only=True)
        ]
        if not lines:
            return []
        head, *body = lines
        return [dict(zip(head, line, strict=False)) for line in body if any(line)]
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _problem(message: str, row: int | None, column: str, kind: str) -> Invalid:
    loc: list[str | int] = (
        ["body", "rows", row, column]
        if row is not None
        else [
            "body",
            "mapping",
            column,
        ]
    )
    return Invalid(message, errors=[FieldError(loc=loc, msg=message, type=kind)])


def units_of(
    rows: Sequence[Mapping[str, Any]], country: str, mapping: ColumnMapping
) -> list[Unit]:
    """Every unit the table names, parents first, each P-code once; bad
    rows are refused with the row and column named, so nothing is loaded."""
    if len(rows) > MAX_ROWS:
        raise _problem(f"at most {MAX_ROWS} rows", None, "rows", "too_long")
    levels = sorted(mapping.levels)
    if levels != list(range(1, len(levels) + 1)):
        raise _problem(
            "levels must start at 1 and leave none out", None, "levels", "value"
        )
    for n in levels:
        if ENGLISH not in mapping.levels[n].names:
            raise _problem(
                f"level {n} needs an English name column", None, "levels", "missing"
            )
        unknown = set(mapping.levels[n].names) - set(LANGUAGES)
        if unknown:
            raise _problem(
                f"unknown languages {sorted(unknown)}", None, "levels", "value"
            )
    found: dict[str, Unit] = {}
    columns = {str(k).strip().lower(): k for k in (rows[0] if rows else {})}

    def column(name: str) -> str:
        key = columns.get(name.strip().lower())
        if key is None:
            raise _problem(f"the table has no column {name!r}", None, name, "missing")
        return str(key)

    for index, row in enumerate(rows):
        parent: str | None = None
        for n in levels:
            spec = mapping.levels[n]
            pcode = str(row.get(column(spec.pcode)) or "").strip().upper()
            if not pcode:
                break  # a row of a higher level only
            if not pcode.startswith(country) or not pcode.isalnum() or len(pcode) > 32:
                raise _problem(
                    f"P-code {pcode!r} is not a {country} P-code",
                    index,
                    spec.pcode,
                    "pcode",
                )
            if parent is not None and not pcode.startswith(parent):
                raise _problem(
                    f"P-code {pcode!r} does not extend its parent's {parent!r}",
                    index,
                    spec.pcode,
                    "pcode_parent",
                )
            names = {
                lang: str(row.get(column(name)) or "").strip()
                for lang, name in spec.names.items()
            }
            names = {lang: value for lang, value in names.items() if value}
            if ENGLISH not in names or len(names[ENGLISH]) > 200:
                raise _problem(
                    "an English name (at most 200 characters) is required",
                    index,
                    spec.names[ENGLISH],
                    "missing",
                )
            unit = Unit(pcode, n, names, parent)
            seen = found.get(pcode)
            if seen is not None and seen != unit:
                raise _problem(
                    f"P-code {pcode} is given twice with different names or parents",
                    index,
                    spec.pcode,
                    "conflict",
                )
            found[pcode] = unit
            parent = pcode
    return sorted(found.values(), key=lambda u: (u.level, u.pcode))


async def load_units(session: AsyncSession, units: Sequence[Unit]) -> LoadReport:
    """Add or rename units by P-code (a unit entered by hand with the same
    name under the same parent gets its P-code); parents come first. Names
    in languages the table does not give are kept (a COD-AB file with
    English and Arabic leaves the Kurdish names shipped for Iraq)."""
    report = LoadReport()
    pcodes = [u.pcode for u in units]
    by_pcode = {
        loc.pcode: loc
        for loc in (
            await session.execute(
                select(Location).where(col(Location.pcode).in_(pcodes))
            )
        ).scalars()
    }
    for unit in units:
        level = ADMIN_LEVELS[unit.level]
        parent = by_pcode[unit.parent_pcode] if unit.parent_pcode else None
        parent_id = parent.id if parent else None
        name = unit.names[ENGLISH]
        location = by_pcode.get(unit.pcode)
        if location is None:
            location = (
                await session.execute(
                    select(Location).where(
                        col(Location.level) == level,
                        col(Location.name) == name,
                        col(Location.pcode).is_(None),
                        col(Location.parent_id) == parent_id
                        if parent_id
                        else col(Location.parent_id).is_(None),
                    )
                )
            ).scalar_one_or_none()
        if location is None:
            location = Location(
                pcode=unit.pcode,
                name=name,
                names=unit.names,
                level=level,
                parent_id=parent_id,
            )
            session.add(location)
            report.added += 1
            report.by_level[level] = report.by_level.get(level, 0) + 1
        elif (location.pcode, location.name, location.names, location.parent_id) != (
            unit.pcode,
            name,
            names := {**location.names, **unit.names},
            parent_id,
        ):
            location.pcode, location.name = unit.pcode, name
            location.names, location.parent_id = names, parent_id
            session.add(location)
            report.renamed += 1
        else:
            report.unchanged += 1
            by_pcode[unit.pcode] = location
            continue
        by_pcode[unit.pcode] = location
        report.changed_ids.append(location.id)
    await session.flush()
    return report
