"""Who the client is behind a reverse proxy: the address per-client limits count, from the forwarding headers.

Only a trusted proxy's word counts. Each proxy appends the address it received the request from, so the
chain is read from the right: past every trusted hop, the first address is the client. Anything left of it
was written by the client and may be forged. A hop that cannot be read stops the walk at the last trusted
address reached, so a broken header never names anyone the proxies did not vouch for, and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

__all__ = ["Network", "client_address", "is_trusted", "parse_networks"]

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

# RFC 7230 list items and RFC 7239 pairs: separators inside a quoted-string do not separate.
_ELEMENT = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|[^,"])+')
_PAIR = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|[^;"])+')
_QUOTED_PAIR = re.compile(r"\\(.)")


def parse_networks(text: str) -> tuple[Network, ...]:
    """``10.0.0.1, 10.1.0.0/16, ::1``: addresses or CIDRs, comma-separated. Raises ValueError on a bad one."""
    return tuple(ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def client_address(
    peer: str, forwarded_for: Iterable[str], forwarded: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The client's address: ``peer`` itself unless it is a trusted proxy, else read from its headers.

    ``forwarded_for`` and ``forwarded`` are every value of ``X-Forwarded-For`` and ``Forwarded`` received
    (repeated headers are one list). A proxy writes one of them; the other arrives as the client sent it.
    So when both name different clients, neither can be believed, and the proxy's own address is used.
    """
    if not trusted:
        return peer  # no proxy to believe: the usual case, decided without parsing anything
    peer_address = _address(peer)
    if peer_address is None or not _trusted(peer_address, trusted):
        return peer
    chains = (
        [_address(hop) for hop in _elements(forwarded_for)],
        [_forwarded_for(element) for element in _elements(forwarded)],
    )
    named = {_walk(peer_address, hops, trusted) for hops in chains if hops}
    return str(named.pop() if len(named) == 1 else peer_address)


def is_trusted(peer: str, trusted: Sequence[Network]) -> bool:
    """Whether ``peer`` is a trusted proxy, whose connections carry many clients."""
    peer_address = _address(peer)
    return peer_address is not None and _trusted(peer_address, trusted)


def _walk(peer: Address, hops: list[Address | None], trusted: Sequence[Network]) -> Address:
    """From the right, past trusted hops, to the first untrusted one; an unreadable hop stops at the last."""
    reached = peer
    for hop in reversed(hops):
        if hop is None:
            return reached
        reached = hop
        if not _trusted(hop, trusted):
            return hop
    return reached


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def _elements(values: Iterable[str]) -> list[str]:
    return [element.strip() for value in values for element in _ELEMENT.findall(value) if element.strip()]


def _forwarded_for(element: str) -> Address | None:
    """The ``for=`` node of one RFC 7239 element: ``for=192.0.2.1;proto=https`` or ``for="[2001:db8::1]:80"``."""
    nodes = []
    for pair in _PAIR.findall(element):
        name, equals, value = pair.partition("=")
        if equals and name.strip().lower() == "for":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
            nodes.append(value)
    return _address(nodes[0]) if len(nodes) == 1 else None


def _address(node: str) -> Address | None:
    """An IP address, with or without a port (``192.0.2.1:80``, ``[2001:db8::1]:80``); None if it is none."""
    node = node.strip()
    if node.startswith("["):
        node, bracket, _ = node[1:].partition("]")
        if not bracket:
            return None
    elif node.count(":") == 1:
        node = node.partition(":")[0]
    try:
        address = ip_address(node)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's form of an IPv4 client
    return address
