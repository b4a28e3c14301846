"""Signing in to the web UI through the login form, as people do: one place for every UI test."""
from __future__ import annotations

import re

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


def csrf_of(html: bytes) -> str:
    """The CSRF token a page's form carries."""
    return CSRF.search(html).group(1).decode()


def sign_in(client, login: str, password: str = "demo", **extra):
    """Open the login page and post its form (with the page's CSRF token); the response to the post."""
    page = client.get("/login")
    token = CSRF.search(page.data)
    data = {"login": login, "password": password, **({"csrf_token": token.group(1).decode()} if token else {}), **extra}
    return client.post("/login", data=data)


def signed_in(app_or_client, login: str, password: str = "demo"):
    """A test client signed in as `login` (a new one for an app); the sign-in must succeed."""
    client = app_or_client.test_client() if hasattr(app_or_client, "test_client") else app_or_client
    response = sign_in(client, login, password)
    assert response.status_code == 302, response.data
    return client
