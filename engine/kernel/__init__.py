"""The kernel: runs one case step in one transaction (load, run the workflow, save, log); hides SpiffWorkflow.

Commands that need SpiffWorkflow's task states take them from here, so SpiffWorkflow stays behind the kernel
and the definitions (``tests/test_architecture.py`` pins the modules that import it).
"""
from SpiffWorkflow.util.task import TaskState

__all__ = ["TaskState"]
