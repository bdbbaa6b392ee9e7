"""Every encrypted column of the training service, with the context string
its write path binds: what ``rotate-keys`` moves to the active key. A test
fails when a ``*_enc`` column is missing here."""

from services.training.mentoring.models import ActionPoint, MentoringVisit
from services.training.practice.models import FidelityReview
from services.training.supervision.models import SupervisionSession
from services.training.trainees.models import Trainee
from shared.rotation import EncryptedColumn, Registered

ENCRYPTED: list[Registered] = [
    EncryptedColumn(Trainee, "full_name_enc", "trainee:{id}:full_name"),
    EncryptedColumn(Trainee, "phone_enc", "trainee:{id}:phone"),
    EncryptedColumn(Trainee, "email_enc", "trainee:{id}:email"),
    EncryptedColumn(SupervisionSession, "notes_enc", "supervision:{id}:notes"),
    EncryptedColumn(FidelityReview, "feedback_enc", "fidelity:{id}:feedback"),
    EncryptedColumn(
        MentoringVisit, "observations_enc", "mentoring_visit:{id}:observations"
    ),
    EncryptedColumn(ActionPoint, "details_enc", "action_point:{id}:details"),
]
