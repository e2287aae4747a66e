"""Deploy: store a validated set of files and a new version for each process whose content changed."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.definitions.parser import parse
from engine.kernel.unit_of_work import UnitOfWork
from engine.store.database import inserted_id
from engine.store.tables import definitions, deployment_files, deployments
from engine.views import DefinitionView


@dataclass(frozen=True)
class Deploy:
    files: Mapping[str, bytes]
    actor: str
    registry: object = None

    def execute(self, uow: UnitOfWork) -> list[DefinitionView]:
        conn = uow.conn
        # a call activity's target must be deployed with it: the version embeds the called spec, frozen
        parsed = parse(self.files, registry=self.registry)
        newest: dict[str, Any] = {}
        for p in parsed:
            row = conn.execute(sa.select(definitions.c.version, definitions.c.content_hash)
                               .where(definitions.c.process_id == p.process_id)
                               .order_by(definitions.c.version.desc()).limit(1)).first()
            newest[p.process_id] = row
        changed = [p for p in parsed if newest[p.process_id] is None
                   or newest[p.process_id].content_hash != p.content_hash]
        results = [DefinitionView(p.process_id, newest[p.process_id].version, p.name, p.content_hash, False)
                   for p in parsed if p not in changed]
        if not changed:
            return sorted(results, key=lambda v: v.process_id)
        files_hash = hashlib.sha256(b"".join(hashlib.sha256(n.encode() + c).digest()
                                             for n, c in sorted(self.files.items()))).hexdigest()
        deployment_id = inserted_id(conn.execute(deployments.insert().values(
            files_hash=files_hash, deployed_by=self.actor, deployed_at=uow.now)))
        conn.execute(deployment_files.insert(), [
            dict(deployment_id=deployment_id, name=n, content=c.decode("utf-8", "replace"))
            for n, c in sorted(self.files.items())])
        for p in changed:
            version = (newest[p.process_id].version if newest[p.process_id] else 0) + 1
            conn.execute(definitions.insert().values(
                process_id=p.process_id, version=version, name=p.name, content_hash=p.content_hash,
                deployment_id=deployment_id, file_name=p.file_name, spec_json=p.spec_json, meta=p.meta,
                created_at=uow.now))
            results.append(DefinitionView(p.process_id, version, p.name, p.content_hash, True))
        return sorted(results, key=lambda v: v.process_id)
