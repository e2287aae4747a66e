"""The schema, as SQLAlchemy Core tables (Core, not ORM: the hot path is a handful of statements per command).

Alembic migrations in ``migrations/`` create and upgrade it; nothing in a production path calls ``create_all``.
Tables fall in three groups:

* definitions: ``deployments``, ``deployment_files``, ``definitions`` (one immutable row per ``process@version``,
  holding the serialized spec once, never copied into instances);
* runtime: ``instances`` (state + optimistic ``version``) and its projections kept in the same transaction:
  ``human_tasks``, ``jobs`` (timers, service calls, message deliveries; incidents are jobs with
  ``status='incident'``), ``subscriptions``; plus ``messages`` (inbox of unmatched messages, with the sender's
  court) and ``case_relations`` (links between cases, recorded by the engine);
* audit and reference data: ``events`` (append-only, hash-chained per instance), ``users``, ``user_roles``,
  ``courts``, ``case_counters``, ``holidays``, ``holiday_years``.
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: the same on SQLite (no zones) and PostgreSQL."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # SQLite with raw strings
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


# the case fields supervisors filter on: jsonb on PostgreSQL (read key by key without re-parsing), JSON elsewhere
CASE_FIELDS = sa.JSON().with_variant(JSONB(), "postgresql")

deployments = sa.Table(
    "deployments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("files_hash", sa.String(64), nullable=False),
    sa.Column("deployed_by", sa.String(64), nullable=False),
    sa.Column("deployed_at", UTCDateTime, nullable=False),
)

deployment_files = sa.Table(
    "deployment_files", metadata,
    sa.Column("deployment_id", sa.ForeignKey("deployments.id"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("content", sa.Text, nullable=False),
)

definitions = sa.Table(
    "definitions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("process_id", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("deployment_id", sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("spec_json", sa.Text, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("process_id", "version"),
)

instances = sa.Table(
    "instances", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("definition_id", sa.ForeignKey("definitions.id"), nullable=False, index=True),
    sa.Column("process_id", sa.String(128), nullable=False),
    sa.Column("case_no", sa.String(64), nullable=False, index=True),
    sa.Column("court", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(64)),
    sa.Column("parent_id", sa.Integer, index=True),
    sa.Column("related_case_no", sa.String(64), index=True),
    sa.Column("case_id", sa.Integer, index=True),                # the case file row (``cases``) it works on
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("serializer_version", sa.String(16), nullable=False),
    sa.Column("state_version", sa.Integer, nullable=False),
    sa.Column("fields", CASE_FIELDS, nullable=False),
    sa.Column("last_seq", sa.Integer, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime),
    sa.Index(None, "court", "status", "process_id"),
    # supervisors' lists and dashboard (migration 0007; and expression indexes on fields owner, term_due_on)
    sa.Index(None, "court", "status", "updated_at"),
    sa.Index(None, "court", "status", "definition_id", "stage"),
    sa.Index(None, "court", "case_no"),
)

# the case file (案卷, engine/store/casefile.py): one row per case, and its typed append-only records
cases = sa.Table(
    "cases", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("court", sa.String(32), nullable=False),
    sa.Column("case_no", sa.String(64), nullable=False),
    sa.Column("case_type", sa.String(8)),
    sa.Column("main_instance_id", sa.Integer),                   # the instance that opened it: its stage, status
    sa.Column("process_id", sa.String(128)),
    sa.Column("status", sa.String(16), nullable=False),          # open | closed | terminated
    sa.Column("stage", sa.String(64)),
    sa.Column("applicant_name", sa.String(255)),
    sa.Column("applicant_id", sa.String(64)),
    sa.Column("debtor_name", sa.String(255)),
    sa.Column("debtor_id", sa.String(64)),
    sa.Column("debtor_kind", sa.String(32)),
    sa.Column("basis", sa.String(255)),
    sa.Column("amount", sa.String(32)),
    sa.Column("owner", sa.String(64)),
    sa.Column("track", sa.String(32)),
    sa.Column("closing_mode", sa.String(32)),
    sa.Column("filed_on", sa.Date),
    sa.Column("term_due_on", sa.Date),
    sa.Column("closed_on", sa.Date),
    sa.Column("record_count", sa.Integer, nullable=False, default=0),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("court", "case_no"),
    sa.Index(None, "court", "status", "updated_at"),
)

case_records = sa.Table(
    "case_records", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("via", sa.String(16), nullable=False),             # service | form | start | migration
    sa.Column("source", sa.String(128)),                         # the operator, or the task's bpmn id
    sa.Column("instance_id", sa.Integer),
    sa.Column("task_id", sa.String(36)),
    sa.Column("job_id", sa.Integer),
    sa.Column("event_seq", sa.Integer),                          # the event of the instance's log that made it
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Index(None, "case_id", "kind", "id"),
)

human_tasks = sa.Table(
    "human_tasks", metadata,
    sa.Column("task_id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False, index=True),
    sa.Column("bpmn_id", sa.String(128), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("lane", sa.String(128)),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("court", sa.String(32), nullable=False),
    sa.Column("case_no", sa.String(64), nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("due_at", UTCDateTime),
    sa.Column("due_provisional", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "court", "role", "due_at"),
    sa.Index(None, "claimed_by"),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),          # timer | service | message
    sa.Column("instance_id", sa.Integer, index=True),            # NULL for a message not yet bound to an instance
    sa.Column("task_id", sa.String(36)),
    sa.Column("bpmn_id", sa.String(128)),
    sa.Column("operator", sa.String(128)),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),        # ready | running | suspended | incident
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("provisional", sa.Boolean, nullable=False, default=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("backoff_s", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("error_details", sa.JSON),
    sa.Column("locked_by", sa.String(64)),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "status", "due_at"),
)

subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("task_id", sa.String(200), primary_key=True),    # <task id>, or <task id>/<message> for a gateway
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False, index=True),
    sa.Column("message_name", sa.String(128), nullable=False),
    sa.Column("correlation_key", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "message_name", "correlation_key"),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("correlation_key", sa.String(128), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),         # unmatched | held | queued | delivered
    sa.Column("delivered_to", sa.Integer),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("court", sa.String(32)),            # the sender's court: delivered only within its boundary
    sa.Column("sender_case", sa.String(64)),      # the sending case, for a message a diagram threw
    sa.Index(None, "status", "name", "correlation_key"),
)

# relations between cases (关联案件: an objection 执异 or a review 执复 to the case it is about), recorded by the
# engine only, when a case is started with a relation checked by engine.court.boundaries; separation of duties
# and cross-court messages read these rows, never case data
case_relations = sa.Table(
    "case_relations", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_no", sa.String(64), nullable=False),
    sa.Column("court", sa.String(32), nullable=False),
    sa.Column("related_case_no", sa.String(64), nullable=False, index=True),
    sa.Column("related_court", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("instance_id", sa.Integer),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("case_no", "related_case_no"),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instance_id", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("case_no", sa.String(64), nullable=False),
    sa.Column("task_id", sa.String(36)),
    sa.Column("bpmn_id", sa.String(128)),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("instance_id", "seq"),
    sa.Index(None, "case_no", "action", "bpmn_id"),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # copied into each session at login; raised to end them all (logout, password reset, deactivation)
    sa.Column("session_epoch", sa.Integer, nullable=False, default=0, server_default="0"),
)

# the sign-in log (audit trail of logins): failures, lockout refusals, lifts, logouts (engine/workspaces/lockout.py)
auth_events = sa.Table(
    "auth_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("username", sa.String(64)),         # as typed (an unknown name is kept too: it is what was tried)
    sa.Column("client", sa.String(64)),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Index(None, "username", "at"),
    sa.Index(None, "client", "at"),
)

user_roles = sa.Table(
    "user_roles", metadata,
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("court", sa.String(32), primary_key=True),
    sa.Column("role", sa.String(64), primary_key=True),
)

courts = sa.Table(
    "courts", metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("parent_code", sa.String(32)),
    sa.Column("settings", sa.JSON, nullable=False),
)

case_counters = sa.Table(
    "case_counters", metadata,
    sa.Column("court", sa.String(32), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("case_type", sa.String(8), primary_key=True),
    sa.Column("last_serial", sa.Integer, nullable=False),
)

holidays = sa.Table(
    "holidays", metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("is_off", sa.Boolean, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
)

holiday_years = sa.Table(
    "holiday_years", metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("loaded_at", UTCDateTime, nullable=False),
)

# designers' drafts (流程设计): a working copy of a deployment set, until deployed or deleted
design_drafts = sa.Table(
    "design_drafts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("process_id", sa.String(128), nullable=False),
    sa.Column("base_version", sa.Integer),
    sa.Column("main_file", sa.String(255), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

design_draft_files = sa.Table(
    "design_draft_files", metadata,
    sa.Column("draft_id", sa.ForeignKey("design_drafts.id"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("content", sa.Text, nullable=False),
)

# officers' form drafts (草稿): what a user typed into a task's form, kept per task and user until it is completed
task_drafts = sa.Table(
    "task_drafts", metadata,
    sa.Column("task_id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("saved_at", UTCDateTime, nullable=False),
)

# API tokens (接口令牌): only the SHA-256 of the secret is kept; ``roles``/``courts`` narrow the user's grants
api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hint", sa.String(16), nullable=False),
    sa.Column("roles", sa.JSON),
    sa.Column("courts", sa.JSON),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("revoked_by", sa.String(64)),
)

# public case progress (执行公开): the verification code of a case is derived from a key kept outside the store and
# this row's nonce; the store keeps only a slow hash of it
public_codes = sa.Table(
    "public_codes", metadata,
    sa.Column("case_no", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.String(32), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
)

# public lookups per client address in the last minute (rate limit shared by every web process)
public_lookups = sa.Table(
    "public_lookups", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Index(None, "client", "at"),
)

# the office log (执行日志 of what is not a step of a case: accounts, roles, tokens, drafts, courts, holiday
# years): append-only, one hash chain; a unique previous hash makes two writers who read the same head conflict
office_events = sa.Table(
    "office_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(48), nullable=False),
    sa.Column("court", sa.String(16)),
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index(None, "court", "at"),
)

# one row: this database's random identity, made by migration 0012 (``engine.store.identity``)
database_identity = sa.Table(
    "database_identity", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
