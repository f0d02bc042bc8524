"""A DNS server on loopback answering TXT (and MX) queries from dicts, for checking sending domains."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class TxtDnsServer:
    __test__ = False

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}  # name (no trailing dot) -> TXT values
        self.queries: list[str] = []
        self.mx: dict[str, list[str]] = {}  # name -> "preference host." values
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def publish(self, name: str, value: str) -> None:
        self.records.setdefault(name.rstrip(".").lower(), []).append(value)

    def publish_mx(self, name: str, host: str, preference: int = 10) -> None:
        self.mx.setdefault(name.rstrip(".").lower(), []).append(f"{preference} {host.rstrip('.')}.")

    def start(self) -> TxtDnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            self.queries.append(name)
            values = self.records.get(name)
            if question.rdtype == dns.rdatatype.MX and name in self.mx:
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "MX", *self.mx[name]))
            elif values is None and name not in self.mx:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and values:
                # A TXT string holds at most 255 characters; long DKIM keys are split, as in zones.
                texts = [" ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255)) for value in values]
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", *texts))
            self._sock.sendto(response.to_wire(), peer)
