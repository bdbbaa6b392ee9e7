"""Jinja2 for documents people read: autoescaped, templates shipped beside the
code that renders them, and the language's words, numbers and direction at
hand in every template (``t``, ``label``, ``number``, ``lang``, ``dir``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.i18n import Language


@cache
def environment(folder: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(folder: Path, name: str, language: Language, **values: Any) -> str:
    return (
        environment(folder)
        .get_template(name)
        .render(
            lang=language.code,
            dir=language.direction,
            t=language.text,
            label=language.label,
            number=language.number,
            day=language.date,
            join=language.join,
            **values,
        )
    )
