"""Process definitions, running instances and their projections."""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONType, Model, UTCDateTime, utcnow


class ProcessDefinition(Model):
    """An immutable, numbered deployment of a BPMN process with its DMN and forms."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("process_id", "version", name="uq_process_definitions_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    # The bulky, immutable parts load only when asked for; the engine caches them per version.
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    dmn_files = deferred(mapped_column(JSONType, default=dict))  # file name -> XML text
    forms = deferred(mapped_column(JSONType, default=dict))  # file name -> parsed JSON
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)  # serialized spec + subprocess specs
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    deployed_at = mapped_column(UTCDateTime, default=utcnow)
    comment: Mapped[str] = mapped_column(String(500), default="")
    # The other BPMN files of the deploy it came with (file name -> XML): the processes its call activities call.
    bpmn_files = deferred(mapped_column(JSONType, default=dict))
    # Where it came from: "repository" (flask deploy), "studio" (published in the browser), "api".
    source: Mapped[str] = mapped_column(String(20), default="api", server_default="api")
    # The one version of its process that new instances get (one per process_id; a rollback moves it).
    active: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)

    deployed_by = relationship("User")


class ProcessSettings(Model):
    """What a process means to this company, across its versions: who may start it and which roles work its lanes.

    `lane_roles` maps a lane's name in the diagram to a role code (a lane named by a role code needs no entry); a
    lane mapped to nothing is worked by the instance's starter and admins. `start_roles` may start instances of it
    besides analysts and admins (`POST /api/v1/processes/{id}/instances`).
    """

    __tablename__ = "process_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), unique=True)
    lane_roles = mapped_column(JSONType, default=dict)  # lane name -> role code
    start_roles = mapped_column(JSONType, default=list)  # role codes
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    updated_by = relationship("User")


class ProcessDraft(Model):
    """An analyst's unpublished work on a process: the diagram, its DMN and forms, and what validation said."""

    __tablename__ = "process_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), unique=True)
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the version it was opened from
    bpmn_xml: Mapped[str] = mapped_column(Text, default="")
    dmn_files = mapped_column(JSONType, default=dict)  # file name -> XML text
    forms = mapped_column(JSONType, default=dict)  # file name -> parsed JSON
    problems = mapped_column(JSONType, default=list)  # the last validation: [{element_id, message, severity}]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    updated_by = relationship("User")


class ProcessMigration(Model):
    """Moving running instances from one version to another: a dry run or a background job, order by order."""

    __tablename__ = "process_migrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    selection = mapped_column(JSONType, default=dict)  # {"orders": [...]} | {"stage": "..."} | {} (all)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued, running, done
    total: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    finished_at = mapped_column(UTCDateTime, nullable=True)

    requested_by = relationship("User")
    items = relationship("ProcessMigrationItem", back_populates="migration", order_by="ProcessMigrationItem.id",
                         cascade="all, delete-orphan")


class ProcessMigrationItem(Model):
    """One order of a migration: pending, moved, or failed (it stays on the old version) with the reason."""

    __tablename__ = "process_migration_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    migration_id: Mapped[int] = mapped_column(ForeignKey("process_migrations.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending, moved, failed
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    migration = relationship(ProcessMigration, back_populates="items")
    order = relationship("Order")


class ProcessInstance(Model):
    """A running process's workflow state, serialized without its spec: an order's lifecycle (`order_id`) or any
    other deployed process started by someone (`started_by`)."""

    __tablename__ = "process_instances"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True,
                                                 nullable=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    state: Mapped[str] = mapped_column(Text, default="")
    # running, completed, error, cancelled, suspended
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    finished_at = mapped_column(UTCDateTime, nullable=True)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    definition = relationship(ProcessDefinition, lazy="joined")
    order = relationship("Order", backref=db.backref("instance", uselist=False))
    started_by = relationship("User")

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(Model):
    """Projection of a user task: what the inbox lists and the forms act on."""

    __tablename__ = "human_tasks"
    # the inbox's open tasks per lane; a department's on-time figures over the tasks it completed in a period
    # and a person's open tasks (their inbox: an assignee keeps every task they completed, 100,000s at scale)
    __table_args__ = (Index("ix_human_tasks_open_lane", "state", "lane"),
                      Index("ix_human_tasks_lane_completed", "lane", "completed_at"),
                      Index("ix_human_tasks_open_assignee", "state", "assignee_id"),
                      # the boards' and the inbox's figures over open tasks, read from the index alone (with
                      # the order and the SLA level: the late tasks and the orders held up by components)
                      Index("ix_human_tasks_open_board", "state", "lane", "stage", "assignee_id", "created_at",
                            "due_at", "order_id", "sla_level"),
                      # the rating's figures read these alone: a period's completed tasks; a step opened again
                      Index("ix_human_tasks_rating", "state", "completed_at", "lane", "completed_by_id", "order_id",
                            "due_at", "bpmn_id"),
                      Index("ix_human_tasks_order_step", "order_id", "bpmn_id", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True,
                                                 nullable=True)  # None: a task of a process no order started
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(120))
    # The role that works it ("" : nobody's role — the instance's starter, set as assignee, and admins).
    lane: Mapped[str] = mapped_column(String(40))
    lane_name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the diagram's lane, as drawn
    # user (a form, or documentation and «Готово»), manual, task (a plain bpmn:task)
    kind: Mapped[str] = mapped_column(String(20), default="user", server_default="user")
    documentation: Mapped[str | None] = mapped_column(Text, nullable=True)
    form_schema: Mapped[str | None] = mapped_column(String(200), nullable=True)
    form_ui_schema: Mapped[str | None] = mapped_column(String(200), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open, completed, cancelled
    data = mapped_column(JSONType, default=dict)  # the form's fields as the process holds them
    created_at = mapped_column(UTCDateTime, default=utcnow)
    due_at = mapped_column(UTCDateTime, nullable=True, index=True)
    completed_at = mapped_column(UTCDateTime, nullable=True)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    sla_level: Mapped[str | None] = mapped_column(String(20), nullable=True)  # highest escalation so far

    order = relationship("Order", backref=db.backref("human_tasks", lazy="dynamic"))
    instance = relationship(ProcessInstance)
    assignee = relationship("User", foreign_keys=[assignee_id], lazy="joined")
    completed_by = relationship("User", foreign_keys=[completed_by_id])


class NewTask(NamedTuple):
    """A task row a step just opened (`app.usecases.projection`), as the rest of the step reads it: no ORM object,
    nothing changes it in that unit of work."""

    id: int
    instance_id: int
    order_id: int | None
    bpmn_id: str
    stage: str
    lane: str
    lane_name: str | None
    created_at: datetime
    due_at: datetime | None


class TaskCandidate(Model):
    """Someone the process named to work a task (spiff-arena's lane owners): they see and may take it."""

    __tablename__ = "task_candidates"
    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class OutboxJob(Model):
    """A background job written in the same transaction as the step that asked for it."""

    __tablename__ = "outbox_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), nullable=True)
    task_guid: Mapped[str | None] = mapped_column(String(36), unique=True, nullable=True)
    bpmn_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    operator: Mapped[str] = mapped_column(String(60))
    params = mapped_column(JSONType, default=dict)
    result = mapped_column(JSONType, nullable=True)
    # queued (handed to rq after commit) → running → done; pending = waiting for the relay
    # (Redis was down, or a retry after backoff); incident = out of attempts.
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    backoff_base: Mapped[int] = mapped_column(Integer, default=2)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_after = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    started_at = mapped_column(UTCDateTime, nullable=True)
    # A running job whose lease ran out belongs to a worker that died: the relay hands it out again.
    lease_until = mapped_column(UTCDateTime, nullable=True)
    finished_at = mapped_column(UTCDateTime, nullable=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    order = relationship("Order")


class Escalation(Model):
    """An SLA level reached by an open task: warning (75 %), head (100 %), director (200 %)."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("task_guid", "level", name="uq_escalations_task_level"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    human_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_tasks.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    task_guid: Mapped[str] = mapped_column(String(36))
    stage: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(20))
    due_at = mapped_column(UTCDateTime, nullable=True)  # the task's 100 % deadline
    fired_at = mapped_column(UTCDateTime, default=utcnow)
    notified = mapped_column(JSONType, default=list)  # [{"name", "address", "user_id"}]
    cleared_at = mapped_column(UTCDateTime, nullable=True)

    order = relationship("Order")
    human_task = relationship("HumanTask")
