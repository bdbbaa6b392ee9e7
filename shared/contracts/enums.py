"""Vocabularies that cross service boundaries (events, feeds, reports)."""

from enum import StrEnum


class Sex(StrEnum):
    """The person's sex, as they gave it."""

    female = "female"
    male = "male"
    other = "other"


class MaritalStatus(StrEnum):
    """The person's marital status."""

    single = "single"
    married = "married"
    divorced = "divorced"
    separated = "separated"
    widowed = "widowed"


class DisabilityStatus(StrEnum):
    """Whether the person has a disability, as they chose to say."""

    yes = "yes"
    no = "no"
    not_disclosed = "not_disclosed"


class WashingtonGroupAnswer(StrEnum):
    """Answer scale of the Washington Group Short Set."""

    no_difficulty = "no_difficulty"
    some_difficulty = "some_difficulty"
    a_lot_of_difficulty = "a_lot_of_difficulty"
    cannot_do_at_all = "cannot_do_at_all"
    refused = "refused"


class DisplacementStatus(StrEnum):
    """The person's displacement status."""

    idp = "idp"
    returnee = "returnee"
    host_community = "host_community"
    refugee = "refugee"
    other = "other"


class RegistrationChannel(StrEnum):
    """How the person came to the programme."""

    outreach = "outreach"
    referral = "referral"
    walk_in = "walk_in"
    hotline = "hotline"
    remote = "remote"


class Modality(StrEnum):
    """How a service was delivered: in person or remotely, and how."""

    in_person = "in_person"
    remote_phone = "remote_phone"
    remote_video = "remote_video"
    remote_messaging = "remote_messaging"


class DeliveredThrough(StrEnum):
    """Direct delivery by the programme's organisation or via a partner."""

    direct = "direct"
    partner = "partner"


class DeliveryMode(StrEnum):
    """Where a service was given: at a centre, by a mobile team, or on an
    outreach visit (at home, in a tent, at a school)."""

    centre = "centre"
    mobile_team = "mobile_team"
    outreach_visit = "outreach_visit"


class TeamKind(StrEnum):
    """A unit of one organisation: a governorate's team or a mobile team."""

    governorate = "governorate"
    mobile = "mobile"
    other = "other"


class OrganisationType(StrEnum):
    """The kind of organisation."""

    un_agency = "un_agency"
    international_ngo = "international_ngo"
    national_ngo = "national_ngo"
    cso = "cso"
    government = "government"
    academic = "academic"
    other = "other"


class LocationLevel(StrEnum):
    """Admin 1 (governorate), admin 2 (district), admin 3 (sub-district,
    nahiya), and the programme's sites below the lowest level known."""

    governorate = "governorate"
    district = "district"
    subdistrict = "subdistrict"
    site = "site"


class SiteType(StrEnum):
    """The kind of site where services are delivered."""

    camp = "camp"
    town = "town"
    phc = "phc"
    hospital = "hospital"
    community_centre = "community_centre"
    youth_centre = "youth_centre"
    school = "school"
    other = "other"


class ConsentPurpose(StrEnum):
    """What a person agreed to; each purpose is granted or withdrawn alone."""

    registration = "registration"
    services = "services"
    referral = "referral"
    data_sharing = "data_sharing"
    research = "research"


class AgeGroup(StrEnum):
    """Age groups for anonymous counts, where no date of birth exists. The
    values are reporting's age band labels (``0-17,18+``), so a count is
    read back under the name it was written with; ``under_18`` and
    ``adult``, the names before, are still accepted and mean the same."""

    age_0_17 = "0_17"
    age_18_plus = "18_plus"
    unknown = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> "AgeGroup | None":
        legacy = {"under_18": cls.age_0_17, "adult": cls.age_18_plus}
        return legacy.get(value) if isinstance(value, str) else None


class RiskLevel(StrEnum):
    """How urgent a person's risk is."""

    low = "low"
    medium = "medium"
    high = "high"
    imminent = "imminent"


class CaseStatus(StrEnum):
    """open (intake done) -> active (plan agreed) <-> on_hold -> closed."""

    open = "open"
    active = "active"
    on_hold = "on_hold"
    closed = "closed"


class ClosureReason(StrEnum):
    """Why a case was closed."""

    goals_met = "goals_met"
    referred_out = "referred_out"
    lost_to_follow_up = "lost_to_follow_up"
    withdrew = "withdrew"
    relocated = "relocated"
    deceased = "deceased"


class Timepoint(StrEnum):
    """When in a case an assessment was made."""

    baseline = "baseline"
    follow_up = "follow_up"
    closure = "closure"


class TrainingAudience(StrEnum):
    """Who a trainee is, as programmes count capacity building by audience."""

    own_staff = "own_staff"
    ngo = "ngo"
    cso = "cso"
    government = "government"
    community_volunteer = "community_volunteer"
    medical_student = "medical_student"
    media = "media"


class TrainingModality(StrEnum):
    """How a training event is given (reports count training by it)."""

    in_person = "in_person"
    online = "online"
    hybrid = "hybrid"


class SupervisionPurpose(StrEnum):
    """What a supervision session was for: capacity building counts
    supervision, coaching and mentoring as its parts."""

    supervision = "supervision"
    coaching = "coaching"
    mentoring = "mentoring"


class CourseLevel(StrEnum):
    """Whether a course is foundational, training of trainers or a refresher."""

    foundational = "foundational"
    tot = "tot"
    refresher = "refresher"


class CourseApproach(StrEnum):
    """The approach a course teaches (IPT-G, PM+, PFA, ...)."""

    ipt_g = "ipt_g"
    pm_plus = "pm_plus"
    pfa = "pfa"
    remote_pfa = "remote_pfa"
    tf_cbt = "tf_cbt"
    caregiver_support = "caregiver_support"
    suicide_prevention = "suicide_prevention"
    responsible_media_suicide = "responsible_media_suicide"
    basic_helping_skills = "basic_helping_skills"
    case_management = "case_management"
    staff_wellbeing = "staff_wellbeing"
    other = "other"


class ReferralKind(StrEnum):
    """Whether a referral stays inside the organisation."""

    internal = "internal"  # another service or unit of the programme
    external = "external"  # another provider


class ReferralArea(StrEnum):
    """The field a referral goes to."""

    specialised_mental_health = "specialised_mental_health"
    health = "health"
    protection = "protection"
    legal = "legal"
    livelihoods = "livelihoods"
    education = "education"
    shelter = "shelter"
    gbv_services = "gbv_services"
    other = "other"


class ReferralStatus(StrEnum):
    """Where a referral stands."""

    sent = "sent"
    accepted = "accepted"
    declined = "declined"
    completed = "completed"
    no_response = "no_response"


class AlertStatus(StrEnum):
    """Whether a supervisor has acknowledged the alert."""

    open = "open"
    acknowledged = "acknowledged"


class ProblemArea(StrEnum):
    """The interpersonal problem area an IPT client works on."""

    grief = "grief"
    role_transitions = "role_transitions"
    role_disputes = "role_disputes"
    interpersonal_deficits = "interpersonal_deficits"


class EnrolmentStatus(StrEnum):
    """Where an enrolment in a structured intervention stands."""

    enrolled = "enrolled"
    finished = "finished"
    dropped_out = "dropped_out"


class LanguageCode(StrEnum):
    """A language the platform renders words in (shared/i18n): English,
    Arabic, Sorani Kurdish."""

    en = "en"
    ar = "ar"
    ckb = "ckb"
