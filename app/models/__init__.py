"""All models, imported so Alembic and the app see one metadata."""
from app.models.analytics import task_days
from app.models.audit import AuditEvent
from app.models.component_counts import OrderComponentCount  # its triggers follow create_all
from app.models.dispatch import VISIT_KINDS, ForecastStat, Visit
from app.models.imports import OrderImport
from app.models.mail import QuarantinedMail
from app.models.orders import (
    CHANNELS,
    ORDER_KINDS,
    PAYMENT_TYPES,
    Attachment,
    Claim,
    Component,
    Customer,
    Document,
    Feedback,
    InboundMessage,
    Note,
    Notification,
    NotificationTemplate,
    Order,
    OrderCounter,
    OrderStatus,
    Partner,
    PartnerCommission,
    Payment,
)
from app.models.process import (
    Escalation,
    HumanTask,
    NewTask,
    OutboxJob,
    ProcessDefinition,
    ProcessDraft,
    ProcessInstance,
    ProcessMigration,
    ProcessMigrationItem,
    ProcessSettings,
    TaskCandidate,
)
from app.models.ratings import RatingWeight
from app.models.reports import SavedReport
from app.models.search import install_search_indexes  # the text-search indexes follow create_all
from app.models.security import LoginAttempt
from app.models.ui import SavedFilter
from app.models.users import LANE_ROLES, ROLES, Department, Role, User

__all__ = [
    "task_days",
    "Attachment", "AuditEvent", "CHANNELS", "Claim", "Component", "Customer", "Department", "Document",
    "Escalation", "Feedback", "HumanTask", "NewTask", "InboundMessage", "LANE_ROLES", "LoginAttempt", "Note",
    "Notification", "NotificationTemplate", "ORDER_KINDS", "Order", "OrderComponentCount", "OrderCounter",
    "OrderImport", "OrderStatus",
    "OutboxJob", "PAYMENT_TYPES", "Partner", "PartnerCommission", "Payment", "ProcessDefinition",
    "ProcessDraft", "ProcessInstance", "ProcessMigration",
    "ProcessMigrationItem", "ProcessSettings", "QuarantinedMail", "ROLES", "RatingWeight", "Role", "SavedFilter",
    "SavedReport", "TaskCandidate", "install_search_indexes", "User", "VISIT_KINDS", "Visit", "ForecastStat",
]
