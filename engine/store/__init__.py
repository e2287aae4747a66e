"""Persistence: table definitions and the database connection factory."""
