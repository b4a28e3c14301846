"""A DNS server on loopback UDP that answers TXT queries from a table: where a domain publishes its DKIM key."""
from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT


class TxtServer:
    """records: "sel._domainkey.example.com" → "v=DKIM1; k=rsa; p=…"; every other name is NXDOMAIN."""

    def __init__(self, records: dict[str, str] | None = None) -> None:
        self.records = {name.rstrip(".").lower(): value for name, value in (records or {}).items()}
        self.queries: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> TxtServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self._socket.recvfrom(4096)
            except OSError:  # closed by stop()
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            for question in query.question:
                name = question.name.to_text().rstrip(".").lower()
                self.queries.append(name)
                value = self.records.get(name)
                if value is None or question.rdtype != dns.rdatatype.TXT:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                    continue
                chunks = [value[i:i + 255].encode("ascii") for i in range(0, len(value), 255)]
                rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, dns.rdatatype.TXT)
                rrset.add(TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks), ttl=300)
                response.answer.append(rrset)
            self._socket.sendto(response.to_wire(), peer)
