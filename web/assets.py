"""Front-end libraries from npm (``web/package.json``, installed by ``npm ci`` into ``web/node_modules``), served
from their prebuilt ``dist`` folders: no bundler. Only the folders listed here are reachable."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

NODE_MODULES = Path(__file__).parent / "node_modules"
VENDOR = {  # url prefix → folder inside node_modules
    "bpmn-js": "bpmn-js/dist",
    "bpmn-js-properties-panel": "bpmn-js-properties-panel/dist",
    "properties-panel": "@bpmn-io/properties-panel/dist",
    "dmn-js": "dmn-js/dist",
    "echarts": "echarts/dist",
    "htmx": "htmx.org/dist",
}

bp = Blueprint("assets", __name__)


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    folder = VENDOR.get(package)
    if folder is None:
        abort(404)
    return send_from_directory(NODE_MODULES / folder, filename, max_age=7 * 24 * 3600)
