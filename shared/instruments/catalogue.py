"""Render the instrument catalogue as Markdown (``docs/instruments.md``):

    python -m shared.instruments.catalogue > docs/instruments.md

A test checks the committed file is what this prints, so the docs cannot drift
from the definitions."""

from __future__ import annotations

from shared.instruments.engine import Instrument, instruments

LANGUAGES = [
    "## Languages of the items",
    "",
    "Item wording is English only; forms in Arabic or Kurdish show the "
    "English items (or, for the SDQ, item numbers) with the answer scales. "
    "A clinical item may only be shown in another language as the published, "
    "validated translation, word for word, with its source recorded "
    "(handbook, section C.4). The licences of PHQ-9, GAD-7 and WHO-5 allow "
    "translation, but no such text is in this repository: on 2026-12-05 we "
    "searched the public reference corpora we can reach for the Arabic "
    "PHQ-9 and GAD-7 (the Pfizer/phqscreeners.com translations, AlHadi et al. "
    "2017 in Annals of General Psychiatry, the 2016 Lebanese adaptation in "
    "Psychiatry Research) and the Arabic WHO-5 (the Psykiatri Region H "
    "collection, "
    "Alshayea 2023). We found the studies' abstracts and the collection's "
    "index page, never the item text itself, so we could not check any "
    "wording against the published form and wrote none: an invented or "
    "re-translated item would not be the validated instrument. To add a "
    "language, copy the items from the publisher's form (phqscreeners.com "
    "for PHQ-9 and GAD-7, the Psykiatri Region H WHO-5 page) into the "
    "definition with its source and licence, and have a native-speaking "
    "clinician compare it with the paper form.",
    "",
]
"""What docs/instruments.md says about translated items (docs/languages.md too)."""


def render() -> str:
    lines = [
        "# Standard instruments",
        "",
        "Generated from `shared/instruments/definitions/` by "
        "`python -m shared.instruments.catalogue`; do not edit by hand.",
        "",
        "Each instrument is data: items, answer scales, reverse items, scores, "
        "bands per norm set, risk rules and change thresholds. An assessment "
        "is scored by one engine (`shared/instruments/engine.py`).",
        "",
        *LANGUAGES,
    ]
    for key in sorted(instruments()):
        lines += _section(instruments()[key])
    return "\n".join(lines).rstrip() + "\n"


def _section(i: Instrument) -> list[str]:
    if i.age_max is not None:
        ages = f"{i.age_min or 0}–{i.age_max}"
    else:
        ages = f"{i.age_min}+" if i.age_min is not None else "any"
    out = [
        f"## {i.name} (`{i.key}`)",
        "",
        f"- Informant: {i.informant}; ages: {ages}; recall: {i.recall_period}.",
        f"- Source: {i.source}.",
        f"- Licence: {i.licence}",
        f"- Items: {len(i.items)}"
        + (
            f"; reverse-scored: {', '.join(x.id for x in i.items if x.reverse)}"
            if any(x.reverse for x in i.items)
            else ""
        )
        + ".",
    ]
    for name, options in i.scales.items():
        answers = ", ".join(f"{o.value} {o.label}" for o in options)
        out.append(f"- Scale `{name}`: {answers}.")
    for s in i.scores:
        basis = (
            f"sum of items {', '.join(s.items)}"
            if s.items
            else f"sum of {', '.join(s.components)}"
        )
        if s.multiplier != 1:
            basis += f", times {s.multiplier:g}"
        if s.missing.max_missing:
            basis += f"; up to {s.missing.max_missing} missing items" + (
                ", pro-rated (mean × items, rounded half-up)"
                if s.missing.prorate
                else ""
            )
        out.append(f"- Score `{s.id}` ({s.name}): {basis}.")
        for norm, bands in s.bands.items():
            ranges = "; ".join(f"{b.min:g}–{b.max:g} {b.label}" for b in bands)
            out.append(f"  - Bands `{norm}`: {ranges}.")
    for rule in i.risk_rules:
        test = f"> {rule.above}" if rule.above is not None else f"< {rule.below}"
        out.append(f"- Risk: item {rule.item} {test} raises `{rule.flag}`.")
    if i.change:
        out.append(
            f"- Change on `{i.change.score}` ({i.change.better} is better): "
            f"reliable {i.change.reliable_change or 'not defined'}, "
            f"clinically meaningful {i.change.clinically_meaningful or 'not defined'} "
            f"({i.change.source})."
        )
    if i.notes:
        out.append(f"- Notes: {i.notes}")
    return [*out, ""]


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
