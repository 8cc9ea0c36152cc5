"""The client's address: the peer, unless a trusted proxy says otherwise; then the right-most
X-Forwarded-For address that is not a trusted proxy (the same rules run through real uvicorn in
tests/security/test_forwarded_for.py)."""

from __future__ import annotations

import pytest

from actors.contracts.config import ConfigError, load_settings
from edge.client_address import client_address, limit_key, parse_trusted
from edge.server import uvicorn_config

PROXIES = parse_trusted("10.0.0.0/8, 192.0.2.7 2001:db8::/32")


def test_no_trusted_proxy_means_the_header_is_never_read() -> None:
    assert client_address("127.0.0.1", ["203.0.113.5"], ()) == "127.0.0.1"


def test_an_untrusted_peer_cannot_name_its_address() -> None:
    assert client_address("198.51.100.1", ["203.0.113.5"], PROXIES) == "198.51.100.1"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        (["203.0.113.5"], "203.0.113.5"),
        # what the client wrote on the left is skipped: the right-most untrusted one is the client
        (["1.1.1.1, 203.0.113.5"], "203.0.113.5"),
        (["1.1.1.1, 203.0.113.5, 10.1.2.3"], "203.0.113.5"),  # through a second trusted proxy
        (["1.1.1.1", "203.0.113.5, 192.0.2.7"], "203.0.113.5"),  # several headers, in order
        (["[2001:db9::5]:443"], "2001:db9::5"),
        (["203.0.113.5:1234"], "203.0.113.5"),
        (["::ffff:203.0.113.5"], "203.0.113.5"),
        (["10.9.9.9, 10.8.8.8"], "10.9.9.9"),  # every hop trusted: the farthest one
        (["203.0.113.5, not-an-address, 10.8.8.8"], "10.8.8.8"),  # garbage: the hop that passed it
        ([], "10.0.0.1"),
    ],
)
def test_a_trusted_peer_s_header_is_read_from_the_right(forwarded: list[str], client: str) -> None:
    assert client_address("10.0.0.1", forwarded, PROXIES) == client


def test_ipv6_is_limited_by_its_64() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2::ffff") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("192.0.2.1") == "192.0.2.1"
    assert limit_key("") == ""


def test_a_bad_trusted_proxy_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="LOANS_TRUSTED_PROXIES"):
        parse_trusted("10.0.0.0/33")
    assert load_settings({"LOANS_TRUSTED_PROXIES": "10.0.0.0/8,::1"}).trusted_proxies == "10.0.0.0/8,::1"


def test_uvicorn_does_not_read_forwarded_headers_itself() -> None:
    """uvicorn's default (proxy_headers on, 127.0.0.1 trusted) would let a local client pick its address."""
    from litestar import Litestar

    assert uvicorn_config(Litestar(), load_settings({})).proxy_headers is False
