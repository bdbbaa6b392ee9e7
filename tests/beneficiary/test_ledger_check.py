"""The rule that sorts a device's consents against the ledger, over any
ledger, any entries and any version the device claims to have seen: no
grant is ever recorded over a decision newer than the device's copy, and
no withdrawal is ever lost."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.beneficiary.consent.models import ConsentEntry
from services.beneficiary.consent.schemas import ConsentGiven
from services.beneficiary.consent.service import against_ledger, ledger_version
from shared.contracts.enums import ConsentPurpose

PURPOSES = [p for p in ConsentPurpose if p != ConsentPurpose.referral]
FORMS = st.sampled_from(["2024-1", "2026-2"])


@st.composite
def ledgers(draw: st.DrawFn) -> dict[ConsentPurpose, ConsentEntry]:
    """The entry in force per purpose, with distinct sequences."""
    purposes = draw(st.lists(st.sampled_from(PURPOSES), unique=True))
    sequences = draw(
        st.lists(
            st.integers(1, 50),
            min_size=len(purposes),
            max_size=len(purposes),
            unique=True,
        )
    )
    return {
        purpose: ConsentEntry(
            id=uuid.uuid4(),
            beneficiary_id=uuid.UUID(int=1),
            organisation_id=uuid.UUID(int=2),
            purpose=purpose,
            granted=draw(st.booleans()),
            form_version=draw(FORMS),
            recorded_by="someone",
            sequence=sequence,
        )
        for purpose, sequence in zip(purposes, sequences, strict=True)
    }


ENTRIES = st.lists(
    st.builds(
        ConsentGiven,
        purpose=st.sampled_from(PURPOSES),
        granted=st.booleans(),
        form_version=FORMS,
    ),
    max_size=6,
)


def same(entry: ConsentGiven, current: ConsentEntry | None) -> bool:
    return current is not None and (
        current.granted,
        current.form_version,
        current.agency,
    ) == (entry.granted, entry.form_version, entry.agency)


@given(ledgers(), ENTRIES, st.integers(0, 100))
def test_no_grant_over_a_newer_decision_and_no_lost_no(
    in_force: dict[ConsentPurpose, ConsentEntry],
    entries: list[ConsentGiven],
    seen: int,
) -> None:
    check = against_ledger(in_force, entries, seen)
    trusted = seen if seen <= ledger_version(in_force) else 0
    for entry in check.to_record:
        current = in_force.get(entry.purpose)
        if entry.granted and current is not None:
            assert current.sequence <= trusted
    for entry in entries:
        current = in_force.get(entry.purpose)
        recorded, kept = entry in check.to_record, entry in check.stale
        if same(entry, current):  # a replay changes nothing
            assert not recorded
            assert not kept
            assert entry != check.withdraws_registration
        elif entry.purpose == ConsentPurpose.registration and not entry.granted:
            assert check.withdraws_registration is not None  # the erasure path
            assert not recorded
            assert not kept
        elif not entry.granted:  # a person's no is never kept waiting
            assert recorded
            assert not kept
        else:
            assert recorded != kept  # a grant: recorded or kept, never dropped
