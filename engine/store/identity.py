"""This database's identity: a random id made when its schema is created (migration 0012).

State the engine does not keep in its tables but that belongs to one database, above all the sandboxes' memory
(``handlers.sandbox_store``), is keyed by it: handlers get it as ``HandlerContext.database_id``. A new database
therefore meets fresh sandboxes, while a restored backup keeps its id and finds the sandbox memory saved with it.
"""
from __future__ import annotations

import sqlalchemy as sa

from engine.store.tables import database_identity


def database_id(conn: sa.Connection) -> str | None:
    """The id, or None when the schema predates it (or is not there yet): ``zhixing init`` adds it."""
    if not sa.inspect(conn).has_table(database_identity.name):
        return None
    return conn.execute(sa.select(database_identity.c.id).limit(1)).scalar()
