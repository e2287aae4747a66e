"""Render a .docx template with docxtpl, byte for byte reproducibly.

A .docx is a zip, and zip entries carry the time they were written; ``normalize`` rewrites every entry with a
fixed time so the same template and fields always give the same bytes, hence the same sha256. That makes a
re-run of a task (same idempotency key) produce the identical file, and lets a test pin a document's hash.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def normalize(data: bytes) -> bytes:
    """The same .docx with every zip entry dated ``FIXED_TIME`` and deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def render(template: Path, context: dict) -> bytes:
    """Fill ``template`` with ``context`` (Jinja, autoescaped so '&' or '<' in a name cannot break the XML)."""
    from docxtpl import DocxTemplate  # imported here: only document.generate needs docxtpl

    doc = DocxTemplate(str(template))
    doc.render(context, autoescape=True)
    buffer = io.BytesIO()
    doc.save(buffer)
    return normalize(buffer.getvalue())


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
