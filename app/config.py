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
        self.API_TOKEN_MAX_AGE = int(os.environ.get("API_TOKEN_MAX_AGE", 30 * 24 * 3600))
        # Length of one SLA hour in seconds: 3600 in production, small in demos and tests.
        self.SLA_HOUR_SECONDS = float(os.environ.get("SLA_HOUR_SECONDS", 3600))
        self.FEEDBACK_TIMEOUT = os.environ.get("FEEDBACK_TIMEOUT", "P14D")
        self.JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", 3))
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
        }

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
