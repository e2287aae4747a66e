"""The OpenAPI 3.1 document of /api/v1, written by hand next to the routes it describes.

Every route is listed with its parameters, request body and responses. Response objects are closed
(``additionalProperties: false``), so the tests that check real responses against this document
(tests/web/test_api.py) fail when a route and its description drift apart.
"""
from __future__ import annotations

from web.api.base import bp
from web.api.messages import EXTERNAL_MESSAGES
from web.security import FIRST_DAY, LAST_DAY, MAX_PAGE

TEXT = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NUMBER = {"type": "number"}
TIME = {"type": "string", "format": "date-time"}
DAY = {"type": "string", "format": "date"}
ANY_OBJECT = {"type": "object"}


def null(schema: dict) -> dict:
    """``schema`` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(**properties) -> dict:
    """A closed object whose properties are all present (null where the schema says so)."""
    return {"type": "object", "properties": properties, "required": sorted(properties),
            "additionalProperties": False}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def array(schema: dict) -> dict:
    return {"type": "array", "items": schema}


def page(item: str, total: bool = True) -> dict:
    props = {"items": array(ref(item)), "page": INT, "per_page": INT, "has_more": BOOL}
    if total:
        props["total"] = INT
    return obj(**props)


TASK = dict(task_id=TEXT, instance_id=INT, bpmn_id=TEXT, name=TEXT, role=TEXT, court=TEXT, case_no=TEXT,
            claimed_by=null(TEXT), due_at=null(TIME), due_provisional=BOOL, created_at=TIME, overdue=BOOL,
            process_id=TEXT, process_name=TEXT, stage=null(TEXT))
OPEN_TASK = obj(task_id=TEXT, bpmn_id=TEXT, name=TEXT, role=TEXT, claimed_by=null(TEXT), due_at=null(TIME),
                overdue=BOOL)
JOB = dict(id=INT, kind={"enum": ["timer", "service", "message"]}, instance_id=null(INT), bpmn_id=null(TEXT),
           operator=null(TEXT), status=TEXT, due_at=TIME, attempts=INT, max_attempts=INT, last_error=null(TEXT))
CASE_REF = obj(instance_id=INT, case_no=TEXT, court=TEXT, stage=null(TEXT), owner=null(TEXT), since=TEXT, days=INT)
CASE_LIST = obj(key=TEXT, label=TEXT, rule=TEXT, status=TEXT, count=INT, cases=array(CASE_REF))
RATIO = obj(key=TEXT, label=TEXT, numerator=NUMBER, denominator=NUMBER, counts=TEXT, over=TEXT, status=TEXT,
            target=null(NUMBER), parts=ANY_OBJECT, value=null(NUMBER), met=null(BOOL))

SCHEMAS = {
    "Error": obj(error={"type": "object", "required": ["code", "message"], "additionalProperties": False,
                        "properties": {
                            "code": {"type": "string", "description": "bad_request, unauthorized, forbidden, "
                                     "not_found, method_not_allowed, conflict, too_large, invalid, "
                                     "invalid_definition, rate_limited, unavailable, internal"},
                            "message": {"type": "string", "description": "for a person: what went wrong and "
                                        "what to do"},
                            "reason": {"type": "string", "description": "the engine's stable machine code, "
                                       "e.g. task.claimed_by_other, task.not_open, task.role_missing, "
                                       "sod.excluded, form.invalid, instance.conflict, step.failed, "
                                       "definition.invalid (choose messages by it, never by the text)"},
                            "params": {"type": "object", "additionalProperties": TEXT,
                                       "description": "the values the reason refers to (e.g. claimed_by)"},
                            "fields": {"type": "object", "additionalProperties": TEXT,
                                       "description": "one message per field of the request"}}}),
    "Me": obj(username=TEXT, token_id=INT, grants=array(obj(court=TEXT, role=TEXT))),
    "Instance": obj(id=INT, process_id=TEXT, version=INT, case_no=TEXT, court=TEXT,
                    status={"enum": ["running", "suspended", "completed", "terminated"]},
                    open_tasks={**array(TEXT), "description": "BPMN ids of the open user tasks"}),
    "CaseRow": obj(instance_id=INT, case_no=TEXT, court=TEXT, process_id=TEXT, process_name=TEXT, status=TEXT,
                   stage=null(TEXT), fields=ANY_OBJECT, started_at=TIME, updated_at=TIME),
    "Task": obj(**TASK),
    "CaseFile": obj(
        case_no=TEXT, court=TEXT,
        facts={**ANY_OBJECT, "description": "parties, amount, basis, owner, ... as far as the case has them"},
        assets=array(ANY_OBJECT), receipts=array(ANY_OBJECT), payouts=array(ANY_OBJECT),
        money=obj(received=TEXT, paid_out=TEXT, balance=TEXT), documents=array(ANY_OBJECT),
        related=array(obj(case_no=TEXT, relation=TEXT, case_type=null(TEXT), process_name=TEXT, status=TEXT,
                          court=TEXT)),
        instances=array(obj(id=INT, process_id=TEXT, process_name=TEXT, version=INT, status=TEXT, stage=null(TEXT),
                            court=TEXT, related_case_no=null(TEXT), parent_id=null(INT), started_at=TIME,
                            ended_at=null(TIME), fields=ANY_OBJECT)),
        open_tasks=array(ref("Task")),
        timeline=array(obj(at=TIME, actor=TEXT, actor_name=null(TEXT), action=TEXT, bpmn_id=null(TEXT),
                           node_name=null(TEXT), instance_id=INT, data=ANY_OBJECT))),
    "InstanceRow": obj(id=INT, case_no=TEXT, process_id=TEXT, process_name=TEXT, version=INT, court=TEXT,
                       status=TEXT, stage=null(TEXT), owner=null(TEXT), started_at=TIME, last_activity=TIME,
                       incidents=INT, overdue=BOOL, open_tasks=array(OPEN_TASK)),
    "InstanceDetail": obj(id=INT, case_no=TEXT, process_id=TEXT, process_name=TEXT, version=INT, court=TEXT,
                          status=TEXT, stage=null(TEXT), parent_id=null(INT), related_case_no=null(TEXT),
                          started_at=TIME, updated_at=TIME, ended_at=null(TIME), fields=ANY_OBJECT,
                          active={**array(TEXT), "description": "BPMN ids holding a token"},
                          open_tasks=array(OPEN_TASK), jobs=array(obj(**JOB)),
                          waits=array(obj(message=TEXT, key=TEXT))),
    "TaskDetail": obj(**TASK, instance_status=TEXT, form={**null(ANY_OBJECT), "description": "JSON Schema"},
                      ui=null(ANY_OBJECT), instructions=null(TEXT), documentation=null(TEXT)),
    "Job": obj(**JOB),
    "Incident": obj(**JOB, case_no=null(TEXT), court=null(TEXT), process_id=null(TEXT), updated_at=TIME),
    "MessageResult": obj(status={"enum": ["delivered", "started", "unmatched", "held"]},
                         instance_ids=array(INT), inbox_id=null(INT)),
    "Procedure": obj(process_id=TEXT, name=TEXT,
                     versions=array(obj(version=INT, name=TEXT, created_at=TIME, deployed_by=TEXT,
                                        running={**INT, "description": "running or suspended cases of your "
                                                 "courts on this version"}))),
    "Deployed": obj(process_id=TEXT, version=INT, name=TEXT,
                    created={**BOOL, "description": "false: an identical version existed already"}),
    "Metrics": obj(court=TEXT, courts=array(TEXT), start=DAY, end=DAY, as_of=DAY, process_id=TEXT,
                   counts={"type": "object", "additionalProperties": NUMBER},
                   ratios={"type": "object", "additionalProperties": RATIO},
                   backlog_by_stage={"type": "object", "additionalProperties": INT},
                   overdue=CASE_LIST, idle=CASE_LIST),
}


def error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": ref("Error")}}}


RESPONSES = {
    "BadRequest": error("The request is malformed (not JSON, JSON nested deeper than 64 levels, a bad query "
                        "parameter such as a page past 1,000,000 or a date outside 1990-2199, a NUL character "
                        "anywhere, a query string that is not UTF-8)."),
    "Unauthorized": error("No token, or an unknown, revoked or expired one, or its user was deactivated."),
    "Forbidden": error("The token lacks the role (in that court) this needs."),
    "NotFound": error("Nothing of that id in the token's courts."),
    "Conflict": error("The task or case is not in a state that allows it, someone else changed it meanwhile "
                      "(reload and retry), or the procedure failed while it ran to its next wait (a script, the "
                      "step or expression budget, a timer): nothing was saved."),
    "Invalid": error("The data was refused; `fields` says why, field by field."),
}


def ok(schema: dict, description: str = "OK", status: str = "200") -> dict:
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


def errors(*names: str) -> dict:
    codes = {"BadRequest": "400", "Unauthorized": "401", "Forbidden": "403", "NotFound": "404", "Conflict": "409",
             "Invalid": "422"}
    # any request may be malformed (a NUL character, web/limits.py): 400 everywhere
    return {codes[n]: {"$ref": f"#/components/responses/{n}"} for n in ("Unauthorized", "BadRequest", *names)}


def query(name: str, description: str, schema: dict = TEXT, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def path(name: str, description: str, schema: dict = TEXT) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


PAGING = [query("page", "page number, from 1", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                                                "default": 1}),
          query("per_page", "rows per page", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})]
COURT = query("court", "only this court (one of the token's)")


def json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


PATHS = {
    "/me": {"get": {
        "summary": "Who the token acts as", "operationId": "me", "tags": ["account"],
        "responses": {**ok(ref("Me")), **errors()}}},
    "/definitions": {
        "get": {"summary": "Deployed procedures and their versions", "operationId": "listDefinitions",
                "tags": ["definitions"],
                "responses": {**ok(obj(items=array(ref("Procedure")))), **errors("Forbidden")}},
        "post": {"summary": "Deploy a set of diagrams, decision tables and forms (designers)",
                 "description": "Validated first; nothing is stored when any file has a problem (422, one "
                                "`fields` entry per problem). An unchanged process is not re-versioned.",
                 "operationId": "deploy", "tags": ["definitions"],
                 "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                     "type": "object", "required": ["files"],
                     "properties": {"files": array({"type": "string", "contentMediaType":
                                                    "application/octet-stream"})}}}}},
                 "responses": {**ok(obj(items=array(ref("Deployed"))), "Deployed", "201"),
                               **errors("Forbidden", "Invalid"),
                               "413": error("The upload is larger than 10 MB.")}}},
    "/cases": {
        "get": {"summary": "Cases of the token's courts, newest first (one row per procedure instance)",
                "operationId": "listCases", "tags": ["cases"],
                "parameters": [query("q", "part of the case number or of a party's name"), COURT,
                               query("status", "running, suspended, completed or terminated"), *PAGING],
                "responses": {**ok(page("CaseRow", total=False)), **errors("BadRequest", "Forbidden")}},
        "post": {"summary": "File a case: start a procedure (filing clerks of the court)",
                 "description": "Refusals name the field and carry a code in error.reason: case_no.format, "
                                "case_no.foreign_court, case_no.taken, case_no.case_type, relation.unknown_case, "
                                "relation.foreign_court (403), relation.required (the procedure separates duties "
                                "from its related case); a related_case_no inside data is refused.",
                 "operationId": "fileCase", "tags": ["cases"],
                 "requestBody": json_body({"type": "object", "required": ["process_id", "court"],
                                           "additionalProperties": False, "properties": {
                                               "process_id": {**TEXT, "description": "e.g. enforcement_case"},
                                               "court": {**TEXT, "description": "court code, e.g. 川0104"},
                                               "case_no": {**TEXT, "description": "leave out to number the "
                                                           "case from the process's caseType; a supplied number "
                                                           "(import) must be official (（2026）川0104执1号), "
                                                           "carry the court's own code and be unused"},
                                               "related_case_no": {**TEXT, "description": "the existing case "
                                                                   "this one is related to (same court, or for "
                                                                   "a 执复/执监/执协 case a court below); the engine "
                                                                   "records "
                                                                   "the relation; separation of duties and "
                                                                   "cross-court messages read only recorded ones"},
                                               "version": {**INT, "description": "default: the newest"},
                                               "data": {**ANY_OBJECT, "description": "the case's first data"}}}),
                 "responses": {**ok(ref("Instance"), "Filed", "201"),
                               **errors("BadRequest", "Forbidden", "NotFound", "Conflict", "Invalid")}}},
    "/cases/{case_no}": {"get": {
        "summary": "A case: parties, amounts, assets and their control, money, documents, open tasks, timeline "
                   "(执行日志), related cases",
        "operationId": "readCase", "tags": ["cases"],
        "parameters": [path("case_no", "e.g. （2026）川0104执1号, URL-encoded")],
        "responses": {**ok(ref("CaseFile")), **errors("Forbidden", "NotFound")}}},
    "/instances": {"get": {
        "summary": "Procedure instances of the token's courts, newest first", "operationId": "listInstances",
        "tags": ["instances"],
        "parameters": [COURT, query("process_id", "only this procedure"),
                       query("status", "running, suspended, completed or terminated",
                             {"enum": ["running", "suspended", "completed", "terminated"]}),
                       query("stage", "only this stage"), query("case_no", "part of the case number"),
                       query("overdue", "1: only cases past their term or with an overdue task"), *PAGING],
        "responses": {**ok(page("InstanceRow")), **errors("BadRequest", "Forbidden")}}},
    "/instances/{instance_id}": {"get": {
        "summary": "An instance: where its tokens are, open tasks, pending jobs (timers, service calls), the "
                   "messages it waits for", "operationId": "readInstance", "tags": ["instances"],
        "parameters": [path("instance_id", "instance id", INT)],
        "responses": {**ok(ref("InstanceDetail")), **errors("Forbidden", "NotFound")}}},
    "/tasks": {"get": {
        "summary": "Open tasks of the token's roles in its courts, soonest due first", "operationId": "listTasks",
        "tags": ["tasks"],
        "parameters": [COURT, query("role", "only this role"), query("case_no", "only this case"),
                       query("claim", "mine: claimed by the token's user; unclaimed: claimed by nobody",
                             {"enum": ["mine", "unclaimed"]}), *PAGING],
        "responses": {**ok(page("Task")), **errors("BadRequest", "Forbidden")}}},
    "/tasks/{task_id}": {"get": {
        "summary": "An open task with its form (JSON Schema) and instructions", "operationId": "readTask",
        "tags": ["tasks"], "parameters": [path("task_id", "task id")],
        "responses": {**ok(ref("TaskDetail")), **errors("Forbidden", "NotFound")}}},
    "/tasks/{task_id}/claim": {"post": {
        "summary": "Claim a task (nobody else may complete it then)", "operationId": "claimTask",
        "tags": ["tasks"], "parameters": [path("task_id", "task id")],
        "responses": {**ok(ref("Task")), **errors("Forbidden", "NotFound", "Conflict")}}},
    "/tasks/{task_id}/unclaim": {"post": {
        "summary": "Give a claimed task back", "operationId": "unclaimTask", "tags": ["tasks"],
        "parameters": [path("task_id", "task id")],
        "responses": {**ok(ref("Task")), **errors("Forbidden", "NotFound", "Conflict")}}},
    "/tasks/{task_id}/complete": {"post": {
        "summary": "Complete a task with its form's data",
        "description": "Checked by the engine: the role in the case's court, the claim, separation of duties "
                       "(审执分离), and the form (422 with a message per field).",
        "operationId": "completeTask", "tags": ["tasks"], "parameters": [path("task_id", "task id")],
        "requestBody": json_body({"type": "object", "required": ["data"], "additionalProperties": False,
                                  "properties": {"data": ANY_OBJECT}}),
        "responses": {**ok(ref("Instance"), "Completed; the instance as it stands now"),
                      **errors("BadRequest", "Forbidden", "NotFound", "Conflict", "Invalid")}}},
    "/messages": {"post": {
        "summary": "Send a message from outside: objection filed, asset clue, bankruptcy court decision, "
                   "restoration application, payment",
        "description": "Delivered to the case waiting for it, or starts the procedure it starts, or is kept "
                       "until a case waits for it (never dropped). The sender's court is taken from the token's "
                       "grants: the existing case's court, or the sender's only officer court, or the one of its "
                       "courts `court` names. A message reaches only cases of that court: one keyed on another "
                       "court's case number, or for a waiting case of another court, is refused (403, reason "
                       "message.foreign_court); a kept one is delivered later only to a case of the same court. "
                       "Names: " +
                       "; ".join(f"`{k}` {v}" for k, v in EXTERNAL_MESSAGES.items()) + ".",
        "operationId": "sendMessage", "tags": ["messages"],
        "requestBody": json_body({"type": "object", "required": ["name", "case_no"], "additionalProperties": False,
                                  "properties": {"name": {"enum": sorted(EXTERNAL_MESSAGES)},
                                                 "case_no": {**TEXT, "description": "the case it is about"},
                                                 "court": {**TEXT, "description": "for a case that does not "
                                                           "exist yet, which of the sender's own courts sends it "
                                                           "(needed only when the token has several)"},
                                                 "payload": ANY_OBJECT}}),
        "responses": {**ok(ref("MessageResult")),
                      **errors("BadRequest", "Forbidden", "NotFound", "Conflict", "Invalid")}}},
    "/incidents": {"get": {
        "summary": "Incidents (jobs whose retries ran out) of the token's courts, latest first",
        "operationId": "listIncidents", "tags": ["incidents"],
        "parameters": [query("subordinates", "1: the courts below the token's too"), *PAGING],
        "responses": {**ok(page("Incident")), **errors("BadRequest", "Forbidden")}}},
    "/incidents/{job_id}/retry": {"post": {
        "summary": "Put an incident's job back in the queue (audited)", "operationId": "retryIncident",
        "tags": ["incidents"], "parameters": [path("job_id", "job id", INT)],
        "responses": {**ok(ref("Job")), **errors("Forbidden", "NotFound", "Conflict")}}},
    "/metrics": {"get": {
        "summary": "执行质效指标: a court's enforcement metrics for a period (docs/metrics.md)",
        "operationId": "readMetrics", "tags": ["metrics"],
        "parameters": [query("court", "court code", required=True),
                       query("from", f"first court day (default 1 January; {FIRST_DAY} to {LAST_DAY})", DAY),
                       query("to", f"last court day (default today; {FIRST_DAY} to {LAST_DAY})", DAY),
                       query("subordinates", "1: include the courts below"),
                       query("process_id", "the main case process (default enforcement_case)")],
        "responses": {**ok(ref("Metrics")), **errors("BadRequest", "Forbidden")}}},
    "/openapi.json": {"get": {
        "summary": "This document", "operationId": "openapi", "tags": ["account"], "security": [],
        "responses": ok(ANY_OBJECT)}},
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "zhixing (执行) API", "version": "1",
             "description": "Court enforcement (民事执行) workflow for integrations. Authenticate with an API token "
                            "from an administrator: `Authorization: Bearer zx_…`. A token acts as its user, "
                            "within the roles and courts it was given. Times are ISO 8601 in UTC; court days "
                            "are dates in Beijing time. Errors: `{\"error\": {\"code\", \"message\", "
                            "\"fields\"?}}`."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {"schemas": SCHEMAS, "responses": RESPONSES,
                   "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                      "description": "an API token (zx_…)"}}},
}


@bp.get("/openapi.json")
def openapi():
    return DOCUMENT
