"""Files people attach to an order: checked by their content, stored on disk, listed as Attachment rows."""
from __future__ import annotations

import os
import uuid
from fnmatch import fnmatch
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from werkzeug.utils import secure_filename

from app.errors import ValidationError
from app.extensions import db
from app.models import Attachment, Order, User

DEFAULT_ALLOWED = ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf",
                   "image/vnd.dwg", "application/acad")
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic",
               "application/pdf": ".pdf", "image/vnd.dwg": ".dwg"}


def sniff(head: bytes) -> str | None:
    """The file's real type from its first bytes; None when it is none of the kinds we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return "image/heic"
    if head[:4] == b"AC10" or head[:4] == b"AC1.":  # AutoCAD drawing: AC1015, AC1018 …
        return "image/vnd.dwg"
    return None


def allowed_for(accept: str | None, allowed: tuple[str, ...] = DEFAULT_ALLOWED) -> tuple[str, ...]:
    """Narrow the allowed types by an `accept`-style pattern such as "image/*"."""
    if not accept:
        return allowed
    patterns = [p.strip() for p in accept.split(",") if p.strip() and "/" in p]
    if not patterns:
        return allowed
    return tuple(t for t in allowed if any(fnmatch(t, p) for p in patterns))


def display_name(raw: str | None) -> str:
    """The name as the user knows it (Cyrillic kept), without any directory part."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    return name[:200] or _("файл")


def save_upload(order: Order, file_storage, author: User | None, *, field: str = "file",
                allowed: tuple[str, ...] = DEFAULT_ALLOWED, max_bytes: int | None = None) -> Attachment:
    """Check the upload by content and size, store it under the order's folder and stage its Attachment row."""
    if max_bytes is None:
        max_bytes = current_app.config.get("MAX_ATTACHMENT_BYTES", 15 * 1024 * 1024)
    name = display_name(file_storage.filename)
    content = file_storage.stream.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise ValidationError(_("Файл слишком большой"), fields={
            field: _("Файл «%(name)s» больше %(mb)s МБ", name=name, mb=round(max_bytes / 1024 / 1024, 1))})
    if not content:
        raise ValidationError(_("Пустой файл"), fields={field: _("Файл «%(name)s» пустой", name=name)})
    kind = sniff(content[:32])
    if kind == "image/vnd.dwg" and "application/acad" in allowed and "image/vnd.dwg" not in allowed:
        kind = "application/acad"
    if kind is None or kind not in allowed:
        raise ValidationError(_("Недопустимый тип файла"), fields={
            field: _("Файл «%(name)s» не подходит: разрешены %(kinds)s", name=name, kinds=_kinds(allowed))})
    stem = secure_filename(name) or "file"
    if not os.path.splitext(stem)[1]:
        stem += _EXTENSIONS.get(kind, "")
    relative = f"{secure_filename(order.number) or order.id}/{uuid.uuid4().hex}-{stem}"
    target = Path(current_app.config["UPLOADS_DIR"]) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    attachment = Attachment(order_id=order.id, author_id=author.id if author else None, filename=name,
                            content_type=kind, size=len(content), storage_path=relative)
    db.session.add(attachment)
    return attachment


def file_path(attachment: Attachment) -> Path:
    """Where the attachment's bytes are (paths are stored relative to UPLOADS_DIR)."""
    path = Path(attachment.storage_path or "")
    return path if path.is_absolute() else Path(current_app.config["UPLOADS_DIR"]) / path


def _kinds(allowed: tuple[str, ...]) -> str:
    labels = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "image/heic": "HEIC",
              "application/pdf": "PDF", "image/vnd.dwg": "DWG", "application/acad": "DWG"}
    return ", ".join(dict.fromkeys(labels.get(t, t) for t in allowed))
