"""zhixing's workflow engine: deploy, run and persist BPMN enforcement procedures.

The public surface is the ``Engine`` facade, its result views and its errors; everything else is internal.
"""
from engine.api import Engine
from engine.clock import SystemClock, VirtualClock
from engine.errors import (ConcurrentModification, DefinitionInvalid, Forbidden, InvalidInput, NotFound,
                           StateError, ZhixingError)
from engine.views import DefinitionView, EventView, InstanceView, JobView, MessageResult, TaskView

__all__ = ["ConcurrentModification", "DefinitionInvalid", "DefinitionView", "Engine", "EventView", "Forbidden",
           "InstanceView", "InvalidInput", "JobView", "MessageResult", "NotFound", "StateError", "SystemClock",
           "TaskView", "VirtualClock", "ZhixingError"]
