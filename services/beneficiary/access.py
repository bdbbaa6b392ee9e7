"""Who may do what in the beneficiary service."""

from typing import Annotated

from fastapi import Depends

from shared.audit import Actor, acting
from shared.auth import Principal, Role, require

FIELD_STAFF = (
    Role.case_worker,
    Role.outreach_worker,
    Role.supervisor,
    Role.programme_manager,
)
SUPERVISORS = (Role.supervisor, Role.programme_manager)


def is_supervisor(principal: Principal) -> bool:
    """Supervisors' acts (erasure, large anonymous counts) in service code."""
    return principal.has_any((*SUPERVISORS, Role.admin))


FieldActor = Annotated[Actor, Depends(acting(*FIELD_STAFF))]
SupervisorActor = Annotated[Actor, Depends(acting(*SUPERVISORS))]
FieldStaff = Annotated[Principal, Depends(require(*FIELD_STAFF))]
Auditor = Annotated[Principal, Depends(require(Role.auditor))]
