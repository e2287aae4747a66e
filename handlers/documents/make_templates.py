"""Write the .docx templates under ``templates/`` from ``template_texts.py``: ``python -m
handlers.documents.make_templates``. The generated files are committed; re-run this after editing the wording.

Layout follows the usual court style: A4, title in 宋体 (SimSun) bold, body in 仿宋 (FangSong) 三号 (16 pt) with
a two-character first-line indent, fixed 28 pt line spacing. Document properties are fixed and the zip is
normalised, so running the script twice gives identical files.
"""
from __future__ import annotations

from datetime import datetime

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from handlers.documents.catalogue import DOC_TYPES, template_path
from handlers.documents.render import normalize
from handlers.documents.template_texts import TEXTS

STYLES = {   # style -> (font, size pt, bold, alignment, first-line indent in characters)
    "court": ("宋体", 22, True, WD_ALIGN_PARAGRAPH.CENTER, 0),
    "title": ("宋体", 26, True, WD_ALIGN_PARAGRAPH.CENTER, 0),
    "number": ("仿宋", 16, False, WD_ALIGN_PARAGRAPH.RIGHT, 0),
    "flush": ("仿宋", 16, False, WD_ALIGN_PARAGRAPH.LEFT, 0),
    "body": ("仿宋", 16, False, WD_ALIGN_PARAGRAPH.JUSTIFY, 2),
    "sign": ("仿宋", 16, False, WD_ALIGN_PARAGRAPH.RIGHT, 0),
    "tag": ("仿宋", 16, False, WD_ALIGN_PARAGRAPH.LEFT, 0),
}


def _font(run, name: str, size: int, bold: bool) -> None:
    run.font.name, run.font.size, run.font.bold = name, Pt(size), bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def build(doc_type: str):
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    props = doc.core_properties
    props.author = props.last_modified_by = "zhixing"
    props.title, props.revision = DOC_TYPES[doc_type][1], 1
    props.created = props.modified = datetime(2026, 1, 1)
    for style, text in TEXTS[doc_type]:
        font, size, bold, align, indent = STYLES[style]
        paragraph = doc.add_paragraph()
        paragraph.alignment = align
        fmt = paragraph.paragraph_format
        fmt.line_spacing, fmt.space_after = Pt(28), Pt(0)
        if indent:
            fmt.first_line_indent = Pt(size * indent)
        _font(paragraph.add_run(text), font, size, bold)
    return doc


def main() -> None:
    import io

    for doc_type in DOC_TYPES:
        buffer = io.BytesIO()
        build(doc_type).save(buffer)
        path = template_path(doc_type)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(normalize(buffer.getvalue()))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
