"""The role catalogue: which lanes a diagram may use and who may work in them.

A lane maps to a role when its ``name`` is the role's code (``command_centre``) or its Chinese label
(``执行指挥中心``). Users hold roles per court (see ``store`` table ``user_roles``).
"""
from __future__ import annotations

ROLES: dict[str, tuple[str, str]] = {
    # code: (Chinese label, English label)
    "filing_clerk": ("立案", "Filing clerk"),
    "command_centre": ("执行指挥中心", "Enforcement command centre"),
    "implementation_officer": ("执行实施法官", "Implementation officer"),
    "judge_assistant": ("法官助理", "Judge assistant"),
    "clerk": ("书记员", "Clerk"),
    "panel_member": ("合议庭", "Collegiate panel member"),
    "president": ("院长", "Court president"),
    "review_judge": ("执行审查", "Review judge"),
    "supervisor": ("监督管理", "Supervisor"),
    "designer": ("流程设计", "Process designer"),
    "admin": ("系统管理", "Administrator"),
}

# the team (团队) that works a role's lane, as a lane is labelled for readers of a diagram (分段集约执行: each stage
# has its own team); a role not listed is labelled by its role name
TEAMS: dict[str, tuple[str, str]] = {
    "filing_clerk": ("立案团队", "Filing team"),
    "command_centre": ("执行指挥中心", "Enforcement command centre"),
    "implementation_officer": ("执行实施团队", "Implementation team"),
    "judge_assistant": ("执行实施团队（法官助理）", "Implementation team (judge assistants)"),
    "clerk": ("书记员团队", "Clerks"),
    "panel_member": ("合议庭", "Collegiate panel"),
    "president": ("院长", "Court president"),
    "review_judge": ("执行审查团队", "Review team"),
    "supervisor": ("监督管理", "Supervision"),
}

# team leaders (组长): the command centre (执行指挥中心) dispatches the court's work, so its members see every open
# task of their court and may hand one to a colleague who holds the task's role there (ReassignTask)
TEAM_LEADER_ROLES = ("command_centre",)

_BY_LABEL = {zh: code for code, (zh, _en) in ROLES.items()}


def role_for_lane(lane_name: str | None) -> str | None:
    """Return the role code a lane maps to, or ``None`` when the lane names no known role."""
    if not lane_name:
        return None
    name = lane_name.strip()
    if name in ROLES:
        return name
    return _BY_LABEL.get(name)
