"""The indicator catalogue: versioned files, checked when loaded.

Each ``indicators/<id>.json`` names a measure of the query engine, its fixed
filters and parameters, the disaggregations it allows and how it is
exchanged (HXL value tag, DHIS2 data element). ``categories.json`` says how
each disaggregation is exchanged. A file that names an unknown measure,
dimension or filter fails the load (and the test suite), not a query.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.reporting.engine.measures import FACT_DIMS, MEASURES

HERE = Path(__file__).parent
LOCATION_DIMS = ("governorate", "district", "site")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HxlMapping(_Model):
    """The HXL hashtag of an indicator's value column."""

    value: str = Field(pattern=r"^#[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*$")


class Dhis2Mapping(_Model):
    """The DHIS2 data element an indicator feeds."""

    data_element: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class Indicator(_Model):
    """An indicator's definition: what it counts, its filters and breakdowns."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    name: str
    description: str
    unit: Literal["people", "services", "count", "percent", "hours", "score"]
    measure: str
    filters: dict[str, list[str]] = {}
    parameters: dict[str, Any] = {}
    disaggregations: list[str]
    framework: str | None = None
    hxl: HxlMapping
    dhis2: Dhis2Mapping

    @model_validator(mode="after")
    def _known(self) -> Indicator:
        measure = MEASURES.get(self.measure)
        if measure is None:
            raise ValueError(f"{self.id}: unknown measure {self.measure!r}")
        dims = FACT_DIMS[measure.fact]
        for name in [*self.disaggregations, *self.filters]:
            if name not in dims:
                raise ValueError(f"{self.id}: {name!r} is not a dim of {measure.fact}")
        return self

    @property
    def fact(self) -> str:
        return MEASURES[self.measure].fact

    @property
    def kind(self) -> str:
        return MEASURES[self.measure].kind


@cache
def indicators() -> dict[str, Indicator]:
    found = {}
    for path in sorted((HERE / "indicators").glob("*.json")):
        indicator = Indicator.model_validate(json.loads(path.read_text()))
        if indicator.id != path.stem:
            raise ValueError(f"{path.name}: id {indicator.id!r} differs from file")
        found[indicator.id] = indicator
    return found


@cache
def categories() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((HERE / "categories.json").read_text())
    data.pop("_comment", None)
    return data


def option_code(dim: str, value: str) -> str:
    """A disaggregation value's DHIS2/ADX option code."""
    spec = categories()[dim]["options"]
    if isinstance(spec, dict):
        found = spec.get(value)
        if found is None:
            raise KeyError(f"{dim}={value!r} has no option code")
        return str(found)
    return str(spec).format(
        label=value.upper(),
        upper=value.upper().replace("-", "_"),
        short=value.replace("-", "")[:12].upper(),
        compact=value.replace("-", ""),
    )


def hxl_attribute(dim: str, value: str) -> str | None:
    """A value's HXL attributes: the category's (``+f``), and for an age
    band the HXL core attribute of its people (``+children`` under 18,
    ``+adults`` from 18, ``+elderly`` from 60, none across 18) before the band itself
    (``+age18_59``), so HXL tools that know only the core attributes still
    sum children and adults, and bands stay apart."""
    spec = categories()[dim].get("hxl")
    if spec is None:
        return None
    if isinstance(spec, dict):
        found = spec.get(value)
        return str(found) if found else None
    band = str(spec).format(label=value.lower())
    return _age_attribute(value) + band if dim == "age_group" else band


def _age_attribute(band: str) -> str:
    """``+children``, ``+adults`` or ``+elderly`` for an age band label
    (``0_17``, ``18_59``, ``60_plus``); nothing for one across 18."""
    low, _, high = band.partition("_")
    if not low.isdigit():
        return ""
    top = int(high) if high.isdigit() else None
    if top is not None and top < 18:
        return "+children"
    if int(low) >= 60:
        return "+elderly"
    if int(low) >= 18:
        return "+adults"
    return ""
