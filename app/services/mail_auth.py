"""Whether a received e-mail really comes from the domain in its From: our receiving server's verdict.

Our MX (Postfix with OpenDKIM/OpenDMARC, rspamd, Exim …) checks SPF, DKIM and DMARC and writes the results into
an `Authentication-Results` header that names it (its authserv-id, RFC 8601). Only a header carrying our own
id counts — anyone can write such a header into a message they send; the MX strips copies of its own id that
arrive from outside (RFC 8601 §5), and of several with our id the topmost (the last one added) is read.

A message passes when DKIM passed for the From domain (or for a domain DMARC aligned with it) and DMARC did not
fail. DKIM is required rather than SPF alone: it signs the From header and the body, so what becomes a note is
what the sender's domain sent; SPF only vouches for the connecting server, and breaks on forwarding anyway.

Where the MX writes no such header (a plain relay), `verify_dkim` checks the DKIM signatures itself with dkimpy,
fetching the signers' keys from DNS; a signature counts when it is valid and its d= is aligned with the From.
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
    heard: bool = True  # False when our server left no results to read


def authenticate(message: EmailMessage, from_domain: str, authserv_id: str) -> Verdict:
    """Read the results our server (authserv_id) wrote; anything else, including other servers' headers, is ignored."""
    ours = authserv_id.strip().lower()
    if not ours:
        return Verdict(False, "INBOUND_AUTHSERV_ID не задан: не известно, чьим результатам проверки верить", False)
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
    return Verdict(False, f"нет заголовка {HEADER} от нашего сервера {ours}", False)


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


def verify_dkim(raw: bytes, from_domain: str, nameserver: str = "", timeout: float = 5) -> Verdict:
    """Our own DKIM check (dkimpy): passes on a valid signature whose d= is aligned with the From domain."""
    import dkim

    try:
        signer = dkim.DKIM(raw, timeout=timeout)
        count = sum(1 for name, _value in signer.headers if name.lower() == b"dkim-signature")
    except dkim.DKIMException as exc:
        return Verdict(False, f"dkimpy: письмо не разобрать ({exc})")
    if not count:
        return Verdict(False, "dkimpy: нет подписи DKIM")
    lookup = _txt_lookup(nameserver)
    seen = []
    for index in range(count):
        signer.domain = None
        try:
            valid = bool(signer.verify(idx=index, dnsfunc=lookup))
            outcome = "pass" if valid else "fail"
        except dkim.DnsTimeoutError:
            valid, outcome = False, "temperror"
        except dkim.ValidationError:  # e.g. the body was changed after signing
            valid, outcome = False, "fail"
        except dkim.DKIMException:  # no key published, a malformed signature …
            valid, outcome = False, "permerror"
        domain = (signer.domain or b"").decode("ascii", "replace").lower()
        seen.append(f"dkim={outcome}" + (f" ({domain})" if domain else ""))
        if valid and _aligned(domain, from_domain):
            return Verdict(True, "dkimpy: " + ", ".join(seen))
    return Verdict(False, "dkimpy: " + ", ".join(seen))


def _txt_lookup(nameserver: str):
    """A dkimpy dnsfunc: the TXT record of a name, from `nameserver` ("host" or "host:port") or the system's."""
    import dkim
    import dns.exception
    import dns.resolver

    try:
        resolver = dns.resolver.Resolver(configure=not nameserver)
    except dns.exception.DNSException:
        resolver = None
    if nameserver and resolver is not None:
        host, _, port = nameserver.rpartition(":") if nameserver.count(":") == 1 else (nameserver, "", "")
        resolver.nameservers, resolver.port = [host], int(port or 53)

    def get_txt(name: bytes, timeout: float = 5) -> bytes | None:
        if resolver is None:
            raise dkim.DnsTimeoutError("no DNS resolver configured")
        try:
            answer = resolver.resolve(name.decode("ascii"), "TXT", lifetime=timeout, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return None
        except dns.exception.DNSException as exc:
            raise dkim.DnsTimeoutError(str(exc)) from exc
        for rrset in answer.response.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(next(iter(rrset)).strings)
        return None

    return get_txt
