"""A task's form (JSON Schema beside the diagram, optional UI schema) as HTML inputs, and back.

``fields()`` turns the schema into ``Field``s the template renders; ``parse()`` turns the submitted inputs into the
data the engine validates (types converted, empty inputs left out so that "required" is the engine's to report).
What the user typed is kept as typed (``raw``) so a page with errors, or a draft, shows it again unchanged.
Supported: string (with ``format`` date, date-time, time, email; long text as a text area), number, integer,
boolean (是/否, or a single checkbox with ``ui:widget: checkbox``), ``enum`` (select, or radio buttons; the
engine turns ``x-zhixing-choices`` into the case's own choices), ``readOnly`` values the engine computes from the
case file (``x-zhixing-value``, shown as text and never sent back),
arrays of enums (checkboxes), arrays of plain values (one per line), and anything else as JSON text.
The UI schema follows react-jsonschema-form: ``ui:order``, and per field ``ui:widget``, ``ui:help``,
``ui:placeholder``, ``ui:title``, ``ui:description``, ``ui:enumNames``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _

LONG_TEXT = 200         # a string field allowing more characters than this gets a text area


@dataclass
class Field:
    name: str
    kind: str               # text textarea number integer date datetime time email select radio boolean checkbox
    #                         checkboxes lines json hidden
    title: str
    required: bool = False
    description: str | None = None
    help: str | None = None
    placeholder: str | None = None
    options: list = field(default_factory=list)     # [(value as text, label)]
    attrs: dict = field(default_factory=dict)       # min max step minlength maxlength for the input
    value: object = ""                              # as typed: text, or a list of texts for checkboxes
    error: str | None = None
    schema: dict = field(default_factory=dict)


def _kind(prop: dict, ui: dict) -> str:
    widget = ui.get("ui:widget")
    if widget == "hidden":
        return "hidden"
    if prop.get("readOnly"):
        return "readonly"           # a value the engine computes from the case file: shown, never sent back
    kind = prop.get("type")
    if "enum" in prop or "oneOf" in prop and all("const" in o for o in prop["oneOf"]):
        return "radio" if widget == "radio" else "select"
    if kind == "boolean":
        return "checkbox" if widget == "checkbox" else "boolean"
    if kind in ("number", "integer"):
        return kind
    if kind == "array":
        items = prop.get("items") or {}
        if isinstance(items, dict) and ("enum" in items or "oneOf" in items):
            return "checkboxes"
        if isinstance(items, dict) and items.get("type") in ("string", "number", "integer"):
            return "lines"
        return "json"
    if kind == "string":
        fmt = prop.get("format")
        if fmt in ("date", "time", "email"):
            return fmt
        if fmt == "date-time":
            return "datetime"
        if widget == "textarea" or prop.get("maxLength", 0) > LONG_TEXT:
            return "textarea"
        return "text"
    return "json"


def _options(prop: dict, ui: dict) -> list[tuple[str, str]]:
    """``(value, label)``: labels from ``ui:enumNames``, else ``oneOf`` titles, else the value itself."""
    if "oneOf" in prop and "enum" not in prop:
        return [(_text(o["const"]), o.get("title") or _text(o["const"])) for o in prop["oneOf"] if "const" in o]
    values = prop.get("enum") or []
    names = ui.get("ui:enumNames") or []
    return [(_text(v), str(names[i]) if i < len(names) else _text(v)) for i, v in enumerate(values)]


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _ordered(schema: dict, ui: dict) -> list[str]:
    names = list((schema.get("properties") or {}).keys())
    order = ui.get("ui:order")
    if not order:
        return names
    head = [n for n in order if n in names]
    tail = [n for n in names if n not in head]
    if "*" in order:
        at = order.index("*")
        head = [n for n in order[:at] if n in names] + tail + [n for n in order[at + 1:] if n in names]
        return head
    return head + tail


def fields(schema: dict | None, ui: dict | None, raw: dict | None = None,
           errors: dict | None = None) -> list[Field]:
    """The form's fields, filled with ``raw`` (what was typed) or the schema's defaults, with ``errors``."""
    schema, ui, raw, errors = schema or {}, ui or {}, raw or {}, errors or {}
    required = set(schema.get("required") or [])
    out = []
    for name in _ordered(schema, ui):
        prop = schema["properties"][name] or {}
        prop_ui = ui.get(name) or {}
        kind = _kind(prop, prop_ui)
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        f = Field(name=name, kind=kind, title=prop_ui.get("ui:title") or prop.get("title") or name,
                  required=name in required, description=prop_ui.get("ui:description") or prop.get("description"),
                  help=prop_ui.get("ui:help"), placeholder=prop_ui.get("ui:placeholder"), schema=prop,
                  options=_options(items if kind == "checkboxes" else prop, prop_ui), error=errors.get(name))
        for key, attr in (("minimum", "min"), ("maximum", "max"), ("minLength", "minlength"),
                          ("maxLength", "maxlength")):
            if key in prop:
                f.attrs[attr] = prop[key]
        if kind in ("number", "integer"):
            f.attrs["step"] = prop.get("multipleOf", 1 if kind == "integer" else "any")
        f.value = raw[name] if name in raw else _default(prop, kind)
        out.append(f)
    return out


def _default(prop: dict, kind: str):
    if "default" not in prop:
        return [] if kind == "checkboxes" else ""
    value = prop["default"]
    if kind == "checkboxes":
        return [_text(v) for v in value]
    if kind == "lines":
        return "\n".join(_text(v) for v in value)
    if kind in ("boolean", "checkbox"):
        return "true" if value else "false"
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    return _text(value)


def raw_values(schema: dict | None, ui: dict | None, form) -> dict:
    """What the user typed, per field (``form`` is the request's MultiDict)."""
    raw = {}
    for f in fields(schema, ui):
        if f.kind == "checkboxes":
            raw[f.name] = form.getlist(f.name)
        elif f.kind == "checkbox":
            raw[f.name] = "true" if form.get(f.name) else "false"
        elif f.kind not in ("hidden", "readonly"):
            raw[f.name] = form.get(f.name, "")
    return raw


def parse(schema: dict | None, ui: dict | None, raw: dict) -> tuple[dict, dict]:
    """``(data, errors)``: the typed data for the engine, and the inputs that could not even be read."""
    data, errors = {}, {}
    for f in fields(schema, ui):
        value = raw.get(f.name)
        try:
            parsed = _parse(f, value)
        except ValueError as exc:
            errors[f.name] = str(exc)
            continue
        if parsed is not None:
            data[f.name] = parsed
    return data, errors


def _number(text: str, integer: bool):
    cleaned = text.replace(",", "").replace("，", "").replace(" ", "")
    try:
        if integer:
            return int(cleaned)
        number = float(cleaned)
    except ValueError:
        raise ValueError(_("请输入整数") if integer else _("请输入数字")) from None
    return int(number) if re.fullmatch(r"-?\d+", cleaned) else number


def _parse(f: Field, value):
    if f.kind == "readonly":
        return None
    if f.kind == "checkboxes":
        allowed = {text: v for text, v in zip([o[0] for o in f.options], _enum_values(f.schema.get("items") or {}))}
        chosen = [allowed[v] for v in value or [] if v in allowed]
        return chosen if chosen or f.required else None
    text = (value or "").strip() if isinstance(value, str) else value
    if text in (None, ""):
        return None
    if f.kind in ("boolean", "checkbox"):
        if text not in ("true", "false"):
            raise ValueError(_("请选择是或否"))
        return text == "true"
    if f.kind in ("select", "radio"):
        allowed = dict(zip([o[0] for o in f.options], _enum_values(f.schema)))
        return allowed.get(text, text)      # an unknown value goes to the engine, which names the error
    if f.kind in ("number", "integer"):
        return _number(text, f.kind == "integer")
    if f.kind == "datetime":
        return f"{text}:00+08:00" if len(text) == 16 else text      # datetime-local is court time, to the minute
    if f.kind == "lines":
        item_type = (f.schema.get("items") or {}).get("type")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return [_number(line, item_type == "integer") for line in lines] if item_type in ("number", "integer") \
            else lines
    if f.kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(_("不是有效的 JSON")) from None
    return text


def _enum_values(prop: dict) -> list:
    if "enum" in prop:
        return list(prop["enum"])
    return [o["const"] for o in prop.get("oneOf") or [] if "const" in o]


TYPE_NAMES = {"number": "数字", "integer": "整数", "string": "文本", "boolean": "是或否", "array": "列表",
              "object": "对象"}


def explain(f: Field | None, message: str) -> str:
    """The engine's validation message (jsonschema's English) as a short text in the user's language."""
    prop = f.schema if f else {}
    array = prop.get("type") == "array"
    limit = re.search(r"(?:minimum|maximum) of (\S+)$", message)
    if "is a required property" in message:
        return _("必填")
    if "should be non-empty" in message or "is too short" in message:
        n = prop.get("minItems" if array else "minLength")
        if n is None:
            return _("内容太短")
        return _("至少 %(n)s 项", n=n) if array else _("至少 %(n)s 个字符", n=n)
    if "is too long" in message or "is expected to be empty" in message:
        n = prop.get("maxItems" if array else "maxLength", 0)
        return _("最多 %(n)s 项", n=n) if array else _("最多 %(n)s 个字符", n=n)
    if limit and "less than or equal to" in message:
        return _("必须大于 %(n)s", n=limit.group(1))
    if limit and "less than" in message:
        return _("不能小于 %(n)s", n=limit.group(1))
    if limit and "greater than or equal to" in message:
        return _("必须小于 %(n)s", n=limit.group(1))
    if limit and "greater than" in message:
        return _("不能大于 %(n)s", n=limit.group(1))
    if "is not of type" in message:
        wanted = re.search(r"is not of type '(\w+)'", message)
        name = wanted.group(1) if wanted else ""
        return _("应为%(type)s", type=_(TYPE_NAMES[name]) if name in TYPE_NAMES else name)
    if "is not one of" in message:
        return _("请从选项中选择")
    if "does not match" in message or re.search(r"is not a '[\w-]+'$", message):    # pattern, format
        return _("格式不符合要求")
    return message
