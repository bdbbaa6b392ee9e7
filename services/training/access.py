"""Who may do what in the training service: every route's actor dependency
is declared here, so the roles of a route are read in one place."""

from typing import Annotated

from fastapi import Depends

from shared.audit import Actor, acting
from shared.auth import Principal, Role, require

TRAINING_STAFF = (Role.trainer, Role.supervisor, Role.programme_manager)

TrainingActor = Annotated[Actor, Depends(acting(*TRAINING_STAFF))]
ManagerActor = Annotated[Actor, Depends(acting(Role.programme_manager))]
SubjectAccessActor = Annotated[
    Actor, Depends(acting(Role.supervisor, Role.programme_manager))
]
"""A trainee's subject access export: a supervisor's or manager's act."""
CourseKeeper = Annotated[
    Principal, Depends(require(Role.trainer, Role.programme_manager))
]
