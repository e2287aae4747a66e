"""Workspaces: what each kind of user reads and does (officers, supervisors, designers, administrators, public)."""
