"""Every encrypted column and blind index of the beneficiary service, with
the context string its write path binds: what ``rotate-keys`` moves to the
active keys. A test fails when a ``*_enc`` column is missing here."""

from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.cases.models import Case, CasePlan, FollowUp, SafetyPlan
from services.beneficiary.imports.models import ImportJob
from services.beneficiary.partners.models import CapacityAssessment, OrganisationProfile
from services.beneficiary.referrals.models import Referral
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.sync.models import SyncConflict
from shared.crypto import normalise_name, normalise_phone
from shared.rotation import BlindIndexColumn, EncryptedColumn, Registered

ENCRYPTED: list[Registered] = [
    EncryptedColumn(Beneficiary, "full_name_enc", "beneficiary:{id}:full_name"),
    EncryptedColumn(Beneficiary, "phone_enc", "beneficiary:{id}:phone"),
    EncryptedColumn(Beneficiary, "address_enc", "beneficiary:{id}:address"),
    BlindIndexColumn(
        Beneficiary, "name_index", "full_name_enc", "name", normalise_name
    ),
    BlindIndexColumn(Beneficiary, "phone_index", "phone_enc", "phone", normalise_phone),
    EncryptedColumn(Case, "intake_notes_enc", "case:{id}:intake_notes"),
    EncryptedColumn(CasePlan, "goals_enc", "case_plan:{case_id}:{version}"),
    EncryptedColumn(FollowUp, "notes_enc", "follow_up:{id}:notes"),
    EncryptedColumn(SafetyPlan, "content_enc", "safety_plan:{case_id}:{version}"),
    EncryptedColumn(
        OrganisationProfile,
        "contact_enc",
        "organisation_profile:{organisation_id}:contact",
    ),
    EncryptedColumn(
        CapacityAssessment, "evidence_enc", "capacity_assessment:{id}:evidence"
    ),
    EncryptedColumn(Referral, "feedback_enc", "referral:{id}:feedback"),
    EncryptedColumn(RiskAlert, "action_taken_enc", "risk_alert:{id}:action_taken"),
    EncryptedColumn(SyncConflict, "payload_enc", "sync_conflict:{id}:payload"),
    BlindIndexColumn(SyncConflict, "payload_digest", "payload_enc", None),
    EncryptedColumn(ImportJob, "source_enc", "import_job:{id}:source"),
    EncryptedColumn(ImportJob, "kobo_token_enc", "import_job:{id}:token"),
]
