"""Uploads are proved by decoding, and no stored file is ever served so that a browser would run it as a page."""
from __future__ import annotations

import os
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.models import Attachment
from app.services.customer_view import customer_account
from tests.test_ui_tasks import Ui, field_block

# A JPEG's first bytes, then a web page: what a browser sniffing the content would run as HTML.
FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"<html><body><script>alert(document.cookie)</script></body></html>"
DWG = b"AC1027" + b"\x00" * 200  # an AutoCAD 2013 drawing's header
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MEASURED = {"dimensions.width_mm": "1800", "dimensions.height_mm": "2400", "dimensions.depth_mm": "600",
            "composition": "Корпус ЛДСП, три секции", "mounting_notes": "Неровный пол у окна",
            "measurement_result": "done"}


def picture(fmt: str, size: tuple[int, int] = (24, 16)) -> bytes:
    """A real image made by Pillow, in the given format."""
    out = BytesIO()
    Image.new("RGB", size, (180, 40, 40)).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def ui(make_app):
    return Ui(make_app(WTF_CSRF_ENABLED=False))


def attachments(app) -> list[Attachment]:
    with app.app_context():
        rows = db.session.execute(select(Attachment).order_by(Attachment.id)).scalars().all()
        db.session.expunge_all()
        return rows


def upload_on_card(ui: Ui, number: str, content: bytes, name: str) -> Attachment:
    """Through the order card's «Прикрепить файл» (a field that takes any allowed file)."""
    response = ui.browser("sales").post(f"/orders/{number}/attachments", content_type="multipart/form-data",
                                        data={"file": (BytesIO(content), name)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return attachments(ui.app)[-1]


def assert_served_safely(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("upload, refusal", [
    ((FAKE_JPEG, "ниша.jpg", "image/jpeg"), "«ниша.jpg» не открывается как изображение JPEG"),  # HTML behind it
    ((DWG, "план.dwg", "image/vnd.dwg"), "«план.dwg» не подходит: разрешены JPEG, PNG, WebP"),
])
def test_what_is_not_a_photo_is_refused_on_a_photo_field_and_the_form_kept(ui, upload, refusal):
    content, filename, kind = upload
    number, task = ui.order_at("measurement", ["new_order", "plan_measurement"])
    response = ui.submit(task, {**MEASURED, "photos": (BytesIO(content), filename, kind)})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert refusal in field_block(html, "photos")
    assert "Корпус ЛДСП, три секции" in html and "Неровный пол у окна" in html  # what was typed is kept
    assert attachments(ui.app) == []
    assert ui.api.open_task(number)["bpmn_id"] == "measurement"


def test_real_photos_in_every_allowed_format_pass_the_photo_field_and_are_shown(ui):
    pytest.importorskip("pillow_heif")
    from pillow_heif import register_heif_opener

    register_heif_opener()  # for making the HEIC here; the app registers it on its own
    number, task = ui.order_at("measurement", ["new_order", "plan_measurement"])
    files = [(BytesIO(picture(fmt)), f"фото.{ext}", f"image/{ext}")
             for fmt, ext in (("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("HEIF", "heic"))]
    response = ui.submit(task, {**MEASURED, "photos": files})

    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert [(a.filename, a.content_type) for a in attachments(ui.app)] == [
        ("фото.jpg", "image/jpeg"), ("фото.png", "image/png"), ("фото.webp", "image/webp"),
        ("фото.heic", "image/heic")]
    assert ui.api.open_task(number)["bpmn_id"] == "prepare_contract"
    for row in attachments(ui.app):  # each decoded, so each is shown in the browser
        response = ui.browser("sales").get(f"/attachments/{row.id}")
        assert response.mimetype == row.content_type and response.headers["Content-Disposition"].startswith("inline;")
        assert_served_safely(response)


def test_a_fake_picture_on_a_general_file_field_is_kept_but_only_ever_downloaded(ui):
    number = ui.api.create_order()
    row = upload_on_card(ui, number, FAKE_JPEG, "фото.jpg")

    response = ui.browser("sales").get(f"/attachments/{row.id}")
    assert response.status_code == 200 and response.data == FAKE_JPEG
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.mimetype == "application/octet-stream"  # never image/jpeg: nothing tries to show it
    assert_served_safely(response)


def test_a_real_png_is_shown_inline_as_an_image_with_nosniff(ui):
    number = ui.api.create_order()
    png = picture("PNG")
    row = upload_on_card(ui, number, png, "ниша.png")

    response = ui.browser("sales").get(f"/attachments/{row.id}")
    assert response.status_code == 200 and response.data == png
    assert response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert_served_safely(response)


def test_a_pdf_and_a_drawing_are_downloads_not_pages(ui):
    number = ui.api.create_order()
    for content, name, kind in ((PDF, "смета.pdf", "application/pdf"), (DWG, "план.dwg", "image/vnd.dwg")):
        row = upload_on_card(ui, number, content, name)
        response = ui.browser("sales").get(f"/attachments/{row.id}")
        assert response.status_code == 200 and response.data == content and response.mimetype == kind
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert_served_safely(response)


def test_the_status_page_serves_the_customers_files_the_same_way(ui):
    """A file stored before this check (a fake «photo» on record) is a download there too."""
    number = ui.api.create_order()
    token = ui.api.order(number)["status_url"].rsplit("/", 1)[1]
    png = picture("PNG")
    with ui.app.app_context():
        customer = customer_account()
        order_id = ui.order(number).id
        uploads = ui.app.config["UPLOADS_DIR"]
        rows = []
        for name, content in (("скол.png", png), ("скол.jpg", FAKE_JPEG)):
            relative = f"{number}/legacy-{name.encode().hex()}"
            path = f"{uploads}/{relative}"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(content)
            row = Attachment(order_id=order_id, author_id=customer.id, filename=name, size=len(content),
                             content_type="image/png" if content == png else "image/jpeg", storage_path=relative)
            db.session.add(row)
            rows.append(row)
        db.session.commit()
        ids = [r.id for r in rows]

    client = ui.app.test_client()
    good = client.get(f"/s/{token}/attachments/{ids[0]}")
    assert good.status_code == 200 and good.mimetype == "image/png"
    assert good.headers["Content-Disposition"].startswith("inline;")
    assert_served_safely(good)
    fake = client.get(f"/s/{token}/attachments/{ids[1]}")
    assert fake.status_code == 200 and fake.mimetype == "application/octet-stream"
    assert fake.headers["Content-Disposition"].startswith("attachment;")
    assert_served_safely(fake)


def test_every_page_says_nosniff(ui):
    for path in ("/login", "/api/v1/openapi.json", "/no-such-page"):
        assert ui.app.test_client().get(path).headers.get("X-Content-Type-Options") == "nosniff", path
