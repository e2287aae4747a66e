"""zhixing's workflow engine: deploy, run and persist BPMN enforcement procedures.

The public surface is the ``Engine`` facade, its result views, its errors and the few constants the web layer
shows (roles, the court's time zone, limits); everything else is internal (``tests/test_architecture.py``).
"""
from engine.api import Engine
from engine.court.roles import ROLES, TEAM_LEADER_ROLES, TEAMS
from engine.definitions.validation import validate_paths
from engine.errors import (
                           ConcurrentModification,
                           DefinitionInvalid,
                           Forbidden,
                           InvalidInput,
                           NotFound,
                           StateError,
                           TooManyLookups,
                           ZhixingError,
)
from engine.legaltime.clock import SystemClock, VirtualClock
from engine.legaltime.periods import COURT_TZ, deadline_day
from engine.store.backup import backup as take_backup
from engine.store.backup import restore as restore_backup
from engine.store.database import database_url
from engine.views import DefinitionView, EventView, InstanceView, JobView, MessageResult, TaskView
from engine.workspaces import lockout
from engine.workspaces.admin import MIN_PASSWORD
from engine.workspaces.design import CASES_PAGE as MIGRATION_CASES_PAGE
from engine.workspaces.design import PREVIEW_BATCH as MIGRATION_PREVIEW_BATCH
from engine.workspaces.supervision import STATUSES as INSTANCE_STATUSES
from engine.workspaces.supervision import Filters as SupervisionFilters

__all__ = ["COURT_TZ", "ConcurrentModification", "DefinitionInvalid", "DefinitionView", "Engine", "EventView",
           "Forbidden", "INSTANCE_STATUSES", "InstanceView", "InvalidInput", "JobView", "MIGRATION_CASES_PAGE",
           "MIGRATION_PREVIEW_BATCH", "MIN_PASSWORD", "MessageResult", "NotFound", "ROLES", "StateError",
           "SupervisionFilters", "SystemClock", "TEAMS", "TEAM_LEADER_ROLES", "TaskView", "TooManyLookups",
           "VirtualClock", "ZhixingError", "database_url", "deadline_day", "lockout", "restore_backup", "take_backup",
           "validate_paths"]
