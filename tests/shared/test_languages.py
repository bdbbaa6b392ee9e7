"""The catalogues of words people read: complete in every language (the CI
check the issue asks for), in step with the codes they name, and the
language chosen as documented (``lang`` wins, then Accept-Language, then
English)."""

from __future__ import annotations

import string
from datetime import date
from enum import StrEnum

import pytest

from services.beneficiary.subject_rights.export import SubjectAccessExport
from services.reporting.catalogue.catalogue import indicators
from services.reporting.overview.service import SECTIONS
from services.training.trainees.subject_access import TraineeSubjectAccess
from shared.contracts.enums import (
    ConsentPurpose,
    CourseLevel,
    DeliveredThrough,
    DeliveryMode,
    DisabilityStatus,
    DisplacementStatus,
    LocationLevel,
    MaritalStatus,
    Modality,
    ReferralArea,
    RegistrationChannel,
    Sex,
    SiteType,
    TrainingAudience,
)
from shared.i18n import (
    ENGLISH,
    LANGUAGES,
    PLURAL_CATEGORIES,
    Language,
    catalogue,
    negotiate,
    plural_category,
)
from shared.taxonomy.activities import (
    activities,
    presenting_problems,
    risk_types,
    topics,
)
from shared.taxonomy.feedback import form_codes, item_codes
from shared.taxonomy.iasc import IascLayer
from shared.taxonomy.materials import materials

VOCABULARIES: dict[str, type[StrEnum]] = {
    "sex": Sex,
    "disability": DisabilityStatus,
    "marital_status": MaritalStatus,
    "displacement_status": DisplacementStatus,
    "iasc_layer": IascLayer,
    "delivered_through": DeliveredThrough,
    "delivery_mode": DeliveryMode,
    "modality": Modality,
    "audience": TrainingAudience,
    "course_level": CourseLevel,
    "area": ReferralArea,
    "level": LocationLevel,
    "site_type": SiteType,
    "registration_channel": RegistrationChannel,
    "purpose": ConsentPurpose,
}


def fields(message: str | dict[str, str]) -> set[str]:
    texts = message.values() if isinstance(message, dict) else [message]
    parsed = (string.Formatter().parse(text) for text in texts)
    return {name for parts in parsed for _, name, _, _ in parts if name}


def expected_keys() -> set[str]:
    keys = {f"{dim}.{v.value}" for dim, enum in VOCABULARIES.items() for v in enum}
    keys |= {f"activity.{code}" for code in activities()}
    keys |= {f"item.{code}" for code in materials()}
    keys |= {f"form.{code}" for code in form_codes()}
    keys |= {f"question.{code}" for code in item_codes()}
    keys |= {f"topic.{code}" for code in topics()}
    keys |= {f"presenting_problem.{code}" for code in presenting_problems()}
    keys |= {f"risk_type.{code}" for code in risk_types()}
    keys |= {f"indicator.{i}" for i in indicators()}
    keys |= {f"definition.{i}" for i in indicators()}
    keys |= {"table." + ".".join([i, *by]) for _, i, by in SECTIONS}
    keys |= {f"section.{section}" for section, _, _ in SECTIONS}
    for document in (SubjectAccessExport, TraineeSubjectAccess):
        schema = document.model_json_schema()
        for part in [schema, *schema.get("$defs", {}).values()]:
            keys |= {f"field.{name}" for name in part.get("properties", {})}
    return keys


def test_english_names_every_code_and_heading() -> None:
    missing = expected_keys() - set(catalogue(ENGLISH))
    assert missing == set()


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != ENGLISH])
def test_every_language_has_every_message_with_the_same_fields(lang: str) -> None:
    english, other = catalogue(ENGLISH), catalogue(lang)
    assert set(other) - set(english) == set(), "keys English does not have"
    assert set(english) - set(other) == set(), "keys missing"
    wrong = {key for key in english if fields(english[key]) != fields(other[key])}
    assert wrong == set()
    for key, message in other.items():
        if isinstance(message, dict):
            assert set(message) == set(PLURAL_CATEGORIES[lang]), key
        assert message, key


def test_english_words_are_the_code_s_own_names() -> None:
    english = catalogue(ENGLISH)
    assert {a.code: english[f"activity.{a.code}"] for a in activities().values()} == {
        a.code: a.name for a in activities().values()
    }
    for prefix, names in [
        ("topic", topics()),
        ("presenting_problem", presenting_problems()),
        ("risk_type", {c: t.name for c, t in risk_types().items()}),
    ]:
        assert {c: english[f"{prefix}.{c}"] for c in names} == names
    assert {i: english[f"indicator.{i}"] for i in indicators()} == {
        i: found.name for i, found in indicators().items()
    }
    assert {c: english[f"item.{c}"] for c in materials()} == materials()
    assert {i: english[f"definition.{i}"] for i in indicators()} == {
        i: found.description for i, found in indicators().items()
    }
    assert {layer: english[f"iasc_layer.{layer.value}"] for layer in IascLayer} == {
        layer: layer.label for layer in IascLayer
    }


@pytest.mark.parametrize(
    ("lang", "accept", "chosen"),
    [
        (None, None, "en"),
        (None, "ar-IQ,en;q=0.8", "ar"),
        (None, "fr, ckb;q=0.3, ar;q=0.2", "ckb"),
        (None, "en;q=0.1, ar", "ar"),
        (None, "ar;q=0, ckb;q=0.5", "ckb"),
        ("ckb", "ar", "ckb"),
        ("ar-IQ", "en", "ar"),
        ("de", "ar", "ar"),
        ("zz", "fr", "en"),
        (None, "garbage;;q=x", "en"),
    ],
)
def test_the_lang_parameter_wins_then_accept_language_then_english(
    lang: str | None, accept: str | None, chosen: str
) -> None:
    assert negotiate(lang, accept) == chosen


def test_words_numbers_and_plurals() -> None:
    arabic, kurdish, english = Language("ar"), Language("ckb"), Language("en")
    assert english.join(
        [english.label("sex", "female"), english.label("age_group", "18_plus")]
    ) == ("Female, 18 and over")
    assert arabic.join(
        [arabic.label("sex", "female"), arabic.label("age_group", "0_17")]
    ) == ("أنثى، من ٠ إلى ١٧")
    assert kurdish.label("displacement_status", "idp") == "ئاوارەی ناوخۆ"
    assert english.label("sex", "unknown") == "Not recorded"
    assert english.label("activity", "not_a_code") == "not_a_code"
    assert arabic.number(1234.5) == "١٬٢٣٤٫٥"
    assert kurdish.date(date(2026, 3, 1)) == "\u2066٢٠٢٦-٠٣-٠١\u2069"
    assert [plural_category("ar", n) for n in (0, 1, 2, 3, 11, 100, 103)] == [
        "zero",
        "one",
        "two",
        "few",
        "many",
        "other",
        "few",
    ]
    assert english.text("overview.sites_active", count=1) == "1 site active"
    assert arabic.text("overview.sites_active", count=2) == "موقعان نشطان"
    assert arabic.direction == kurdish.direction == "rtl"
    assert english.direction == "ltr"
