"""Configuration from the environment; every setting has an embedded default."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings read once when the app is created."""

    def __init__(self) -> None:
        instance = Path(os.environ.get("INSTANCE_PATH", ROOT / "instance"))
        self.INSTANCE_PATH = str(instance)
        self.SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
        self.SQLALCHEMY_DATABASE_URI = os.environ.get(
            "DATABASE_URL", f"sqlite:///{instance / 'bespoke.sqlite3'}"
        )
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgres://"):
            self.SQLALCHEMY_DATABASE_URI = "postgresql://" + self.SQLALCHEMY_DATABASE_URI[11:]
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.RQ_QUEUE = os.environ.get("RQ_QUEUE", "bespoke")
        # Run each background job synchronously right after the commit that wrote it.
        self.JOBS_INLINE = _bool("JOBS_INLINE")
        self.PROCESSES_DIR = os.environ.get("PROCESSES_DIR", str(ROOT / "processes"))
        self.FORMS_DIR = os.environ.get("FORMS_DIR", str(ROOT / "forms"))
        self.UPLOADS_DIR = os.environ.get("UPLOADS_DIR", str(instance / "uploads"))
        self.PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000")
        # Customer status links: requests per address, and failed lookups (wrong, altered or revoked tokens) per
        # address — past the second, that address gets 429 for a while. Counters live in
        # RATELIMIT_STORAGE_URI: memory:// in one process, the Redis URL when several web processes serve.
        self.STATUS_RATE_LIMIT = os.environ.get("STATUS_RATE_LIMIT", "60 per minute")
        self.STATUS_MISS_LIMIT = os.environ.get("STATUS_MISS_LIMIT", "20 per hour")
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
        # Said outright: the limiter is one object for every app in the process, and an app created without the
        # setting would inherit the previous app's choice (a test app that switched it off left it off).
        self.RATELIMIT_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True  # the limiter's store down must not take the page down
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_HEADERS_ENABLED = True
        # Cookies go only with our own site's requests and navigations (not another site's form posts), never
        # to scripts, and — when we are served over HTTPS — only over HTTPS. COOKIE_SECURE forces Secure either
        # way; by default it follows PREFERRED_URL_SCHEME, which follows PUBLIC_URL.
        self.PREFERRED_URL_SCHEME = os.environ.get(
            "PREFERRED_URL_SCHEME", "https" if self.PUBLIC_URL.startswith("https://") else "http")
        self.COOKIE_SECURE = _bool("COOKIE_SECURE") if os.environ.get("COOKIE_SECURE") else None
        self.SESSION_COOKIE_SAMESITE = self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_HTTPONLY = self.REMEMBER_COOKIE_HTTPONLY = True
        # Request bodies: JSON and forms up to MAX_CONTENT_LENGTH, multipart forms with files (photos of a
        # measurement, a claim) up to MAX_UPLOAD_LENGTH; anything larger is a 413 before it is read.
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 2 * 2**20))
        self.MAX_UPLOAD_LENGTH = int(os.environ.get("MAX_UPLOAD_LENGTH", 64 * 2**20))
        # An Excel import of orders (app/services/order_import.py): a larger file or more rows is refused whole.
        self.IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", 5 * 2**20))
        self.IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", 10_000))
        self.MAX_FORM_MEMORY_SIZE = self.MAX_CONTENT_LENGTH  # one text field of a form (Flask's default: 500 kB)
        self.API_TOKEN_MAX_AGE = int(os.environ.get("API_TOKEN_MAX_AGE", 30 * 24 * 3600))
        # SLA deadlines count working hours on the business calendar; "continuous" counts plain time
        # with hours of SLA_HOUR_SECONDS (short in demos and tests).
        self.SLA_CALENDAR = os.environ.get("SLA_CALENDAR", "business")
        self.SLA_HOUR_SECONDS = float(os.environ.get("SLA_HOUR_SECONDS", 3600))
        self.FEEDBACK_TIMEOUT = os.environ.get("FEEDBACK_TIMEOUT", "P14D")
        # Seconds a running job may take before the relay presumes its worker dead (default: per operator).
        self.JOB_LEASE_SECONDS = float(os.environ["JOB_LEASE_SECONDS"]) if os.environ.get("JOB_LEASE_SECONDS") else None
        # A running job's worker renews its lease every third of this; a worker killed mid-job is noticed (and
        # the job handed out again) this many seconds after its last renewal.
        self.JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", 10))
        self.TIMEZONE = os.environ.get("TIMEZONE", "Europe/Moscow")
        # Business calendar for SLA deadlines: working hours, working weekdays (0 = Monday), public
        # holidays of a country from the `holidays` package, plus extra days off / working days.
        self.WORK_HOURS = os.environ.get("WORK_HOURS", "09:00-18:00")
        self.WORK_DAYS = os.environ.get("WORK_DAYS", "0,1,2,3,4")
        self.HOLIDAYS_COUNTRY = os.environ.get("HOLIDAYS_COUNTRY", "RU")
        self.EXTRA_HOLIDAYS = os.environ.get("EXTRA_HOLIDAYS", "")  # "2026-12-31,2027-01-09"
        self.EXTRA_WORKDAYS = os.environ.get("EXTRA_WORKDAYS", "")  # transferred working Saturdays
        # SMS: log (embedded default), smsru, smsc or smsaero; credentials from the environment.
        self.SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "log")
        self.SMS_SENDER = os.environ.get("SMS_SENDER", "")
        self.SMSRU_API_ID = os.environ.get("SMSRU_API_ID", "")
        self.SMSRU_URL = os.environ.get("SMSRU_URL", "https://sms.ru")
        self.SMSC_LOGIN = os.environ.get("SMSC_LOGIN", "")
        self.SMSC_PASSWORD = os.environ.get("SMSC_PASSWORD", "")
        self.SMSC_URL = os.environ.get("SMSC_URL", "https://smsc.ru")
        self.SMSAERO_EMAIL = os.environ.get("SMSAERO_EMAIL", "")
        self.SMSAERO_API_KEY = os.environ.get("SMSAERO_API_KEY", "")
        self.SMSAERO_URL = os.environ.get("SMSAERO_URL", "https://gate.smsaero.ru")
        self.SMS_DEFAULT_REGION = os.environ.get("SMS_DEFAULT_REGION", "RU")
        # Seconds to wait for a gateway's answer; a send that times out stays "sending" and the next run
        # asks the gateway whether it went out (lookup) instead of sending it again.
        self.SMS_TIMEOUT = float(os.environ.get("SMS_TIMEOUT", 10))
        # E-mail out: SMTP (empty host = the log transport of the embedded default).
        self.SMTP_HOST = os.environ.get("SMTP_HOST", "")
        self.SMTP_PORT = int(os.environ.get("SMTP_PORT", 587))
        self.SMTP_USER = os.environ.get("SMTP_USER", "")
        self.SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
        self.SMTP_SECURITY = os.environ.get("SMTP_SECURITY", "starttls")  # starttls, ssl or none
        self.SMTP_CA_FILE = os.environ.get("SMTP_CA_FILE", "")  # a private CA to trust (tests, intranets)
        self.SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", 30))
        self.MAIL_FROM = os.environ.get("MAIL_FROM", "Бэспоук <orders@bespoke.example>")
        # E-mail in: the address orders are sent to, and where the SMTP receiver listens.
        self.ORDERS_ADDRESS = os.environ.get("ORDERS_ADDRESS", "orders@bespoke.example")
        self.INBOUND_SMTP_HOST = os.environ.get("INBOUND_SMTP_HOST", "127.0.0.1")
        self.INBOUND_SMTP_PORT = int(os.environ.get("INBOUND_SMTP_PORT", 2525))
        # The authserv-id our MX writes into Authentication-Results; empty = that header is never believed.
        self.INBOUND_AUTHSERV_ID = os.environ.get("INBOUND_AUTHSERV_ID", "")
        # Without that header, check DKIM ourselves; keys from DNS (INBOUND_DNS "host[:port]", else the system's).
        self.INBOUND_DKIM_VERIFY = os.environ.get("INBOUND_DKIM_VERIFY", "1") not in ("", "0", "false", "no")
        self.INBOUND_DNS = os.environ.get("INBOUND_DNS", "")
        # 1C:Enterprise standard OData interface, e.g. https://1c.example/base/odata/standard.odata/
        self.ONEC_URL = os.environ.get("ONEC_URL", "")
        self.ONEC_USER = os.environ.get("ONEC_USER", "")
        self.ONEC_PASSWORD = os.environ.get("ONEC_PASSWORD", "")
        self.ONEC_MAPPING = os.environ.get("ONEC_MAPPING", "")  # a JSON file overriding the entity/field mapping
        self.ONEC_POLL_SECONDS = float(os.environ.get("ONEC_POLL_SECONDS", 300))  # how often to ask for payments
        # Predicted completion dates (app/services/prediction.py): how often the scheduler recounts the finished
        # orders' figures and re-predicts the active ones (in batches), and how many finished orders of a kind
        # at a stage make its own figures count (fewer: every kind's at that stage).
        self.PREDICTION_REFRESH_SECONDS = float(os.environ.get("PREDICTION_REFRESH_SECONDS", 3600))
        self.PREDICTION_BATCH = int(os.environ.get("PREDICTION_BATCH", 200))
        self.PREDICTION_MIN_SAMPLES = int(os.environ.get("PREDICTION_MIN_SAMPLES", 20))
        # Who wakes the due timers (app/usecases/timers.py): "inline" — the scheduler, one instance after another;
        # "workers" — the scheduler leases each due instance for TIMER_LEASE_SECONDS and hands it to the workers
        # (an instance whose worker died is handed out again once its lease runs out).
        self.TIMER_WAKE = os.environ.get("TIMER_WAKE", "inline")
        self.TIMER_LEASE_SECONDS = float(os.environ.get("TIMER_LEASE_SECONDS", 60))
        # The http operator: header sets a diagram names ({"name": {"Header": "value"}}, JSON) so secrets stay in
        # settings; calls to addresses inside the network are refused unless allowed.
        self.HTTP_OPERATOR_HEADERS = os.environ.get("HTTP_OPERATOR_HEADERS", "")
        self.HTTP_OPERATOR_ALLOW_PRIVATE = _bool("HTTP_OPERATOR_ALLOW_PRIVATE")
        self.VAT_RATE = os.environ.get("VAT_RATE", "20")
        self.COMPANY = {
            "name": os.environ.get("COMPANY_NAME", "ООО «Бэспоук»"),
            "inn": os.environ.get("COMPANY_INN", "7701234567"),
            "kpp": os.environ.get("COMPANY_KPP", "770101001"),
            "ogrn": os.environ.get("COMPANY_OGRN", "1207700123456"),
            "address": os.environ.get("COMPANY_ADDRESS", "115114, г. Москва, ул. Летниковская, д. 10, стр. 2"),
            "bank": os.environ.get("COMPANY_BANK", "ПАО Сбербанк, г. Москва"),
            "bik": os.environ.get("COMPANY_BIK", "044525225"),
            "account": os.environ.get("COMPANY_ACCOUNT", "40702810938000012345"),
            "corr_account": os.environ.get("COMPANY_CORR_ACCOUNT", "30101810400000000225"),
            "phone": os.environ.get("COMPANY_PHONE", "+7 495 123-45-67"),
            "email": os.environ.get("COMPANY_EMAIL", "info@bespoke.example"),
            "director": os.environ.get("COMPANY_DIRECTOR", "Смирнов А. В."),
            "accountant": os.environ.get("COMPANY_ACCOUNTANT", "Кузнецова Е. П."),
        }

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
