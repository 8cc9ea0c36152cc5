"""Who the client is: the TCP peer, or what a trusted proxy in front of the edge says it is.

uvicorn's own proxy handling is off (edge/server.py): by default it believes X-Forwarded-For from
127.0.0.1, so any client on the machine could name its own address and skip every limit. Here
X-Forwarded-For is read only when the peer is one of `LOANS_TRUSTED_PROXIES` (none by default),
and then from the right: each trusted proxy appends the address it saw, so the right-most address
that is not a trusted proxy is the first one no trusted proxy wrote itself, the client; anything
to its left was written by the client and is ignored (design.md §16).

The app resolves the address once per request, in front of everything (edge/app.py), and puts it
in the ASGI scope's "client": the request limit, the login and signup limits, logs and traces all
read that one value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from actors.contracts.config import PREFIX, ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_XFF = b"x-forwarded-for"


def parse_trusted(text: str) -> tuple[Network, ...]:
    """`LOANS_TRUSTED_PROXIES`: addresses or CIDRs, separated by commas or spaces."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{PREFIX}TRUSTED_PROXIES: {item!r} is not an address or CIDR") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address as written in X-Forwarded-For or the peer, IPv4-mapped IPv6 as the IPv4 it is."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: Address, trusted: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The client's address: `peer` unless it is a trusted proxy; then the right-most address of
    the X-Forwarded-For values (in the order received) that is not a trusted proxy."""
    nearest = _address(peer)
    if nearest is None or not trusted or not _trusted(nearest, trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Not an address: whoever wrote it, the hop that passed it on is the last one known.
            break
        nearest = address
        if not _trusted(address, trusted):
            break
    # Every hop trusted (or no header): the farthest proxy known is all that can be said.
    return str(nearest)


def resolve_scope(scope: dict[str, Any], trusted: tuple[Network, ...]) -> None:
    """Put the client's address into an http/websocket `scope` (in place, as uvicorn's own
    middleware does); only called when some proxy is trusted."""
    peer = scope.get("client")
    if not peer:
        return
    forwarded = [value.decode("latin-1") for name, value in scope.get("headers", ()) if name == _XFF]
    host = client_address(peer[0], forwarded, trusted)
    if host != peer[0]:
        scope["client"] = (host, 0)  # the client's own port is not known past a proxy


def limit_key(address: str) -> str:
    """What a limit counts an address by: an IPv6 address by its /64 (one host, or one site, is
    given a whole /64 and may pick any address in it), anything else as it is."""
    found = _address(address)
    if isinstance(found, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((found, 64), strict=False))
    return address if found is None else str(found)
