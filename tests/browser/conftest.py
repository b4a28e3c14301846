"""Browser tests: the real app served on loopback, driven by Playwright in Debian's Chromium."""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.support.services import free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.sqlite_only)


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is required for the browser tests in CI (apt-get install chromium)")
        pytest.skip("Chromium not installed here")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(make_app):
    """The seeded app served by a real HTTP server in a thread."""
    app = make_app(WTF_CSRF_ENABLED=True)
    port = free_port()
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def sign_in(page, base: str, login: str, password: str = "demo") -> None:
    """Sign in through the form, as a person does, and wait to land on the home page."""
    page.goto(f"{base}/login")
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', password)
    page.click('button:has-text("Войти")')
    page.wait_for_url(lambda url: "/login" not in url)


def follow(page, selector: str) -> None:
    """Click what leads to another page (a link, a form's button) and wait for that page to load whole: a click
    returns once the next page has begun, and what is read at once may be only the part of it parsed by then."""
    page.click(selector)
    page.wait_for_load_state()


def signed_in(browser, base: str, login: str, viewport: dict = DESKTOP):
    """(context, page) of a new desktop browser window signed in as `login`, in Russian."""
    context = browser.new_context(viewport=viewport, locale="ru-RU")
    page = context.new_page()
    sign_in(page, base, login)
    return context, page


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
