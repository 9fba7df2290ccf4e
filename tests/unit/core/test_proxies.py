"""The client address behind proxies: only trusted peers' headers count, read from the right, never raising."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.core.proxies import client_address, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 192.0.2.7, 2001:db8:1::/48")
EDGE, INNER = "10.0.0.2", "10.1.2.3"  # two trusted hops: the edge proxy forwards to an inner one


def through(peer: str, forwarded_for: str | None = None, forwarded: str | None = None) -> str:
    return client_address(
        peer,
        [] if forwarded_for is None else [forwarded_for],
        [] if forwarded is None else [forwarded],
        PROXIES,
    )


def test_no_trusted_proxies_means_the_peer_is_the_client() -> None:
    assert parse_networks("") == ()
    assert client_address("10.0.0.2", ["203.0.113.9"], ["for=203.0.113.9"], ()) == "10.0.0.2"


def test_a_trusted_proxy_names_the_client() -> None:
    assert through(EDGE, "203.0.113.9") == "203.0.113.9"
    assert through("192.0.2.7", forwarded="for=203.0.113.9;proto=https;by=192.0.2.7") == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    assert through("198.51.100.4", "203.0.113.9") == "198.51.100.4"
    assert through("198.51.100.4", forwarded="for=203.0.113.9") == "198.51.100.4"
    assert through("192.0.2.8", "203.0.113.9") == "192.0.2.8"  # next to a trusted address is not trusted


def test_what_the_client_wrote_left_of_its_own_address_is_ignored() -> None:
    # The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended the address it saw.
    assert through(EDGE, "1.1.1.1, 203.0.113.9") == "203.0.113.9"
    assert through(EDGE, forwarded='for=1.1.1.1, for="203.0.113.9"') == "203.0.113.9"
    # Claiming to be a trusted proxy does not help either: the client's own address is to the right of it.
    assert through(EDGE, f"{INNER}, 203.0.113.9") == "203.0.113.9"


def test_several_trusted_hops_are_walked_past() -> None:
    assert through(INNER, f"1.1.1.1, 203.0.113.9, {EDGE}") == "203.0.113.9"
    assert through(INNER, forwarded=f"for=203.0.113.9, for={EDGE};by={INNER}") == "203.0.113.9"
    # Repeated headers are one list, in order.
    assert client_address(INNER, ["1.1.1.1, 203.0.113.9", EDGE], [], PROXIES) == "203.0.113.9"


def test_when_every_hop_is_trusted_the_farthest_one_is_the_client() -> None:
    assert through(INNER, f"{EDGE}, 192.0.2.7") == EDGE
    assert through(EDGE) == EDGE  # a trusted peer that forwarded nothing speaks for itself


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "forwarded", "client"),
    [
        ("2001:db8:1::5", "2001:db8:ffff::9", None, "2001:db8:ffff::9"),
        ("2001:db8:1::5", "[2001:db8:ffff::9]:4711", None, "2001:db8:ffff::9"),
        ("2001:db8:1::5", None, 'for="[2001:db8:ffff::9]:4711"', "2001:db8:ffff::9"),
        ("2001:db8:1::5", None, 'For="[2001:DB8:FFFF::9]"', "2001:db8:ffff::9"),
        ("::ffff:10.0.0.2", "203.0.113.9", None, "203.0.113.9"),  # a dual-stack socket's IPv4 proxy
        (EDGE, "::ffff:203.0.113.9", None, "203.0.113.9"),
        (EDGE, "203.0.113.9:51234", None, "203.0.113.9"),
        (EDGE, None, 'for="203.0.113.9:51234"', "203.0.113.9"),
        ("2001:db8:2::5", "203.0.113.9", None, "2001:db8:2::5"),  # untrusted IPv6 peer
    ],
)
def test_ipv6_and_ports(peer: str, forwarded_for: str | None, forwarded: str | None, client: str) -> None:
    assert through(peer, forwarded_for, forwarded) == client


@pytest.mark.parametrize(
    ("forwarded_for", "forwarded", "client"),
    [
        ("", None, EDGE),
        (" , ,", None, EDGE),
        ("unknown", None, EDGE),
        ("not an address", None, EDGE),
        ("203.0.113.9, garbage", None, EDGE),  # the hop the proxy vouches for is unreadable: stop at it
        (f"203.0.113.9, garbage, {INNER}", None, INNER),
        ("garbage, 203.0.113.9", None, "203.0.113.9"),  # unreadable but left of the client: never reached
        ("[2001:db8::1", None, EDGE),
        ("999.1.1.1", None, EDGE),
        (None, "for=unknown", EDGE),
        (None, "for=_hidden", EDGE),
        (None, "proto=https", EDGE),  # an element without for=
        (None, "for=203.0.113.9;for=198.51.100.1", EDGE),  # two for= in one element
        (None, 'for="203.0.113.9', EDGE),  # an unclosed quote
        (None, 'for="1.1.1.1, for=2.2.2.2"', EDGE),  # a comma inside quotes does not split elements
        (None, "=;=,;", EDGE),
    ],
)
def test_malformed_headers_fall_back_to_the_last_trusted_hop(
    forwarded_for: str | None, forwarded: str | None, client: str
) -> None:
    assert through(EDGE, forwarded_for, forwarded) == client


def test_headers_that_disagree_are_not_believed() -> None:
    # A proxy writes one header; the client may have sent the other, naming anyone.
    assert through(EDGE, "203.0.113.9", "for=198.51.100.1") == EDGE
    assert through(EDGE, "203.0.113.9", "for=203.0.113.9") == "203.0.113.9"


def test_a_peer_that_is_no_address_is_kept_as_it_is() -> None:
    assert through("unknown", "203.0.113.9") == "unknown"


def test_networks_are_parsed_strictly_enough_to_catch_typos() -> None:
    assert [str(n) for n in parse_networks(" 10.0.0.1 ,10.1.0.0/16,::1")] == ["10.0.0.1/32", "10.1.0.0/16", "::1/128"]
    assert [str(n) for n in parse_networks("10.1.2.3/16")] == ["10.1.0.0/16"]
    for bad in ("10.0.0.300", "10.0.0.0/33", "localhost", "10.0.0.0/8;10.1.0.0/16"):
        with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
            parse_networks(bad)


header_text = st.text(alphabet=st.sampled_from(list('0123456789abcdef:.,;="[] \\fFoOrRuknw_')), max_size=60)


@given(
    peer=st.sampled_from([EDGE, INNER, "2001:db8:1::5", "198.51.100.4", "unknown"]), xff=header_text, fwd=header_text
)
def test_any_header_text_gives_an_address_and_only_trusted_peers_are_read(peer: str, xff: str, fwd: str) -> None:
    client = client_address(peer, [xff], [fwd], PROXIES)
    if peer in ("198.51.100.4", "unknown"):
        assert client == peer
    else:
        ip_address(client)
