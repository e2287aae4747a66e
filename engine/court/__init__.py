"""The court as an organisation: courts and their settings, case numbers, roles, user accounts."""
