"""Whether a received e-mail really comes from the domain in its From: our receiving server's verdict.

Our MX (Postfix with OpenDKIM/OpenDMARC, rspamd, Exim …) checks SPF, DKIM and DMARC and writes the results into
an `Authentication-Results` header that names it (its authserv-id, RFC 8601). Only a header carrying our own
id counts — anyone can write such a header into a message they send; the MX strips copies of its own id that
arrive from outside (RFC 8601 §5), and of several with our id the topmost (the last one added) is read.

A message passes when DKIM passed for the From domain (or for a domain DMARC aligned with it) and DMARC did not
fail. DKIM is required rather than SPF alone: it signs the From header and the body, so what becomes a note is
what the sender's domain sent; SPF only vouches for the connecting server, and breaks on forwarding anyway.
"""
from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import authres

HEADER = "Authentication-Results"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    summary: str  # for people: what the server said, or why nothing it said counts


def authenticate(message: EmailMessage, from_domain: str, authserv_id: str) -> Verdict:
    """Read the results our server (authserv_id) wrote; anything else, including other servers' headers, is ignored."""
    ours = authserv_id.strip().lower()
    if not ours:
        return Verdict(False, "INBOUND_AUTHSERV_ID не задан: не известно, чьим результатам проверки верить")
    try:
        values = message.get_all(HEADER) or []
    except Exception:  # noqa: BLE001 - a broken header is an absent one
        values = []
    for value in values:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(str(value))
        except authres.AuthResError:
            continue
        if (header.authserv_id or "").lower() == ours:
            return _judge(header, from_domain.lower(), ours)
    return Verdict(False, f"нет заголовка {HEADER} от нашего сервера {ours}")


def _judge(header, from_domain: str, ours: str) -> Verdict:
    results = [(r.method.lower(), (r.result or "").lower(), _signing_domain(r)) for r in header.results]
    summary = f"{ours}: " + (", ".join(f"{m}={v}" + (f" ({d})" if d else "") for m, v, d in results) or "none")
    dmarc = {v for m, v, _d in results if m == "dmarc"}
    if dmarc - {"pass", "none"}:
        return Verdict(False, summary)
    for method, value, domain in results:
        if method != "dkim" or value != "pass":
            continue
        if domain is None and "pass" in dmarc:  # no d= given: DMARC's pass says a signature aligned with From
            return Verdict(True, summary)
        if domain is not None and _aligned(domain, from_domain):
            return Verdict(True, summary)
    return Verdict(False, summary)


def _signing_domain(result) -> str | None:
    found = {prop.name: str(prop.value) for prop in result.properties or [] if prop.type == "header" and prop.value}
    value = found.get("d") or found.get("i") or ""
    return value.rpartition("@")[2].lower().strip(".") or None


def _aligned(signing: str, from_domain: str) -> bool:
    """DMARC's relaxed alignment, approximated: the same domain, or one a subdomain of the other."""
    if "." not in signing or "." not in from_domain:
        return False
    return signing == from_domain or from_domain.endswith("." + signing) or signing.endswith("." + from_domain)
