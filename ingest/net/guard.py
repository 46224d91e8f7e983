"""Which network addresses the service may connect to.

The check runs on resolved addresses, so odd spellings of a host (decimal, hex or octal IPv4, IPv6
forms that embed an IPv4 address) are judged by where they really lead.
"""

from __future__ import annotations

import ipaddress

from ingest.config import Networks

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return "teredo"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why = refusal(inner)
            return f"embedded {why}" if why else None
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name
    if not ip.is_global:
        return "not_global"
    return None


class AddressPolicy:
    """Refuses non-public addresses unless all are allowed or the address is in an allowed range."""

    def __init__(self, allow: bool | Networks = False) -> None:
        self._allow_all = allow is True
        self._allowed: Networks = () if isinstance(allow, bool) else allow

    def _allowed_explicitly(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
            candidates.append(inner)
        return any(c in net for c in candidates for net in self._allowed if c.version == net.version)

    def check(self, address: str) -> str | None:
        """The reason to refuse ``address`` (an IP literal), or None when connecting is allowed."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "not_an_address"
        if self._allow_all or self._allowed_explicitly(ip):
            return None
        return refusal(ip)
