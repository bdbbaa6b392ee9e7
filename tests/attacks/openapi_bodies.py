"""Valid requests built from a service's OpenAPI, and the string fields in
them, so an attack can replace one field at a time.

A body holds a schema's required properties, plus the attacked field and
what it sits in. Values come from the schema (enums, minimums, formats) and,
where the schema cannot say what the server accepts (ids of real records,
codes from a catalogue), from ``hints``: field name -> a value that works.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

Json = Any
Path = tuple[str | int, ...]
ITEM = 0
"""A list's first element, in a field's path."""
ENTRY = "*"
"""A dict's entry, in a field's path (``hints`` names its key)."""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    body: dict[str, Any] | None
    query: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def resolve(spec: Json, schema: Json) -> Json:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return resolve(spec, options[0])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return resolve(spec, schema["allOf"][0])
    return schema


def is_free_text(schema: Json) -> bool:
    return schema.get("type") == "string" and not (
        {"format", "enum", "const"} & schema.keys()
    )


def operations(spec: Json) -> list[Operation]:
    """Every operation taking a JSON body or string query parameters."""
    found = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            query = tuple(
                p["name"]
                for p in op.get("parameters", [])
                if p["in"] == "query" and _stringish(spec, p["schema"])
            )
            if body is not None or query:
                found.append(Operation(method.upper(), path, body, query))
    return found


def _stringish(spec: Json, schema: Json) -> bool:
    schema = resolve(spec, schema)
    if schema.get("type") == "array":
        schema = resolve(spec, schema.get("items", {}))
    return is_free_text(schema) or "pattern" in schema


def string_fields(spec: Json, schema: Json, path: Path = ()) -> list[Path]:
    """Paths of every string field (free text or patterned) in a body."""
    schema = resolve(spec, schema)
    kind = schema.get("type")
    if kind == "string" and not ({"format", "enum", "const"} & schema.keys()):
        return [path]
    if kind == "array":
        return string_fields(spec, schema.get("items", {}), (*path, ITEM))
    fields = []
    for name, sub in schema.get("properties", {}).items():
        fields += string_fields(spec, sub, (*path, name))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        fields += string_fields(spec, extra, (*path, ENTRY))
    return fields


def build(spec: Json, schema: Json, name: str, hints: dict[str, Json]) -> Json:
    """A minimal valid value for ``schema`` (``name`` is its property)."""
    if name in hints:
        return copy.deepcopy(hints[name])
    schema = resolve(spec, schema)
    if "default" in schema and schema["default"] is not None:
        return copy.deepcopy(schema["default"])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = schema.get("required", [])
        return {
            prop: build(spec, sub, prop, hints)
            for prop, sub in schema.get("properties", {}).items()
            if prop in required
        }
    if kind == "array":
        count = schema.get("minItems", 0)
        return [build(spec, schema["items"], name, hints) for _ in range(count)]
    if kind == "integer" or kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return max(low, 1) if schema.get("maximum", 10**9) >= 1 else low
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2026-02-01"
    if schema.get("format") == "date-time":
        return "2026-02-01T10:00:00Z"
    return "Benign text " + name


def with_value(
    spec: Json,
    schema: Json,
    body: Json,
    path: Path,
    value: Json,
    hints: dict[str, Json],
) -> Json:
    """``body`` with the field at ``path`` set to ``value`` (containers on
    the way built as needed)."""
    if not path:
        return value
    schema = resolve(spec, schema)
    step, rest = path[0], path[1:]
    if step == ITEM:
        items = schema.get("items", {})
        elements = list(body or [])
        first = elements[0] if elements else build(spec, items, "", hints)
        return [with_value(spec, items, first, rest, value, hints), *elements[1:]]
    if step == ENTRY:
        extra = schema["additionalProperties"]
        key = next(iter(body), None) if body else None
        key = key or "name"
        entries = dict(body or {})
        entries[key] = with_value(spec, extra, entries.get(key), rest, value, hints)
        return entries
    assert isinstance(step, str)
    sub = schema.get("properties", {})[step]
    current = dict(body if isinstance(body, dict) else {})
    inner = current.get(step)
    if inner is None and rest:
        inner = build(spec, sub, step, hints)
    current[step] = with_value(spec, sub, inner, rest, value, hints)
    return current


def read_at(body: Json, path: Path) -> Json:
    for step in path:
        body = next(iter(body.values())) if step == ENTRY else body[step]
    return body
