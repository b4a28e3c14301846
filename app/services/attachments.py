"""Files people attach to an order: checked by their content, stored on disk, listed as Attachment rows.

A file is shown in the browser only when it is an image that Pillow decoded; everything else is served as a
download, and every served file carries `nosniff` and a sandboxing CSP, so a file dressed up as a picture
(an HTML page behind a JPEG header) never runs as a page of ours.
"""
from __future__ import annotations

import io
import os
import uuid
import warnings
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path

from flask import Response, current_app, send_file
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from werkzeug.utils import secure_filename

from app.errors import ValidationError
from app.extensions import db
from app.models import Attachment, Order, User

DEFAULT_ALLOWED = ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf",
                   "image/vnd.dwg", "application/acad")
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# The image types shown inline, by Pillow's name of the format; HEIC through the pillow-heif plugin.
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/heic": "HEIF"}
# Decoding a PNG, WebP or HEIC takes 3 bytes a pixel: past this a small file could take gigabytes of memory.
MAX_DECODED_PIXELS = 64_000_000
# Served user files may be looked at, never run: no scripts, no plugins, no requests of their own.
USER_FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"
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
    """Narrow the allowed types by an `accept`-style pattern; "image/*" means pictures, not drawings (DWG)."""
    if not accept:
        return allowed
    patterns = [p.strip() for p in accept.split(",") if p.strip() and "/" in p]
    if not patterns:
        return allowed
    return tuple(t for t in allowed if any(_matches(t, p) for p in patterns))


def _matches(kind: str, pattern: str) -> bool:
    if pattern == "image/*":  # a picture; DWG is registered as image/vnd.dwg but no browser shows it
        return kind in image_types()
    return fnmatch(kind, pattern)


def image_types() -> tuple[str, ...]:
    """The image types this installation can decode (HEIC only with pillow-heif)."""
    return tuple(t for t in IMAGE_FORMATS if IMAGE_FORMATS[t] != "HEIF" or _heif_ready())


def decodes_as(content: bytes, kind: str) -> bool:
    """Whether Pillow decodes the bytes, whole, as an image of that type (a header alone proves nothing)."""
    fmt = IMAGE_FORMATS.get(kind)
    if fmt is None or kind not in image_types():
        return False
    try:
        with warnings.catch_warnings():
            # A 108-megapixel phone photo is a photo; past Pillow's hard limit (DecompressionBombError) it is not.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[fmt]) as image:
                if image.format != "JPEG" and image.width * image.height > MAX_DECODED_PIXELS:
                    return False
                image.draft("RGB", (256, 256))  # JPEG: every block decoded, at an eighth of the size
                image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError):
        return False
    return True


@lru_cache(maxsize=1)
def _heif_ready() -> bool:
    """Register pillow-heif's decoder once, on first need (not at import); False when it is not installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


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
    if all(t in IMAGE_FORMATS for t in allowed) and not decodes_as(content, kind):
        raise ValidationError(_("Файл не является изображением"), fields={
            field: _("Файл «%(name)s» не открывается как изображение %(kind)s: пришлите фотографию ещё раз",
                     name=name, kind=_kinds((kind,)))})
    stem = secure_filename(name) or "file"
    if not os.path.splitext(stem)[1]:
        stem += _EXTENSIONS.get(kind, "")
    relative = f"{secure_filename(order.number) or order.id}/{uuid.uuid4().hex}-{stem}"
    target = Path(current_app.config["UPLOADS_DIR"]) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    db.session.info.setdefault("stored_files", []).append(target)  # removed again if the unit of work rolls back
    attachment = Attachment(order_id=order.id, author_id=author.id if author else None, filename=name,
                            content_type=kind, size=len(content), storage_path=relative)
    db.session.add(attachment)
    return attachment


def file_path(attachment: Attachment) -> Path:
    """Where the attachment's bytes are (paths are stored relative to UPLOADS_DIR)."""
    path = Path(attachment.storage_path or "")
    return path if path.is_absolute() else Path(current_app.config["UPLOADS_DIR"]) / path


def send_attachment(attachment: Attachment) -> Response:
    """The stored file as a response: inline only when it is an image Pillow decodes, else a download."""
    path = file_path(attachment)
    kind = attachment.content_type or "application/octet-stream"
    inline = kind in IMAGE_FORMATS and _verified_image(str(path), kind, *_stamp(path))
    if kind in IMAGE_FORMATS and not inline:
        kind = "application/octet-stream"  # says "image" but is not one: nothing may try to render it
    response = send_file(path, mimetype=kind, as_attachment=not inline, download_name=attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = USER_FILE_CSP
    return response


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=2048)
def _verified_image(path: str, kind: str, mtime_ns: int, size: int) -> bool:
    """Decoded once per stored file (files are never rewritten: a new upload gets a new name)."""
    return decodes_as(Path(path).read_bytes(), kind)


def _kinds(allowed: tuple[str, ...]) -> str:
    labels = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "image/heic": "HEIC",
              "application/pdf": "PDF", "image/vnd.dwg": "DWG", "application/acad": "DWG"}
    return ", ".join(dict.fromkeys(labels.get(t, t) for t in allowed))


def attachment_ids(schema: dict, data: dict) -> list[int]:
    """The attachment ids a form's data holds in its file fields."""
    ids: list[int] = []
    for name, node in (schema.get("properties") or {}).items():
        if node.get("type") == "array" and (node.get("items") or {}).get("format") == "attachment":
            ids.extend(int(v) for v in data.get(name) or [] if str(v).isdigit())
    return ids
