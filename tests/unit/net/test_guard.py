from __future__ import annotations

import ipaddress

import pytest

from ingest.config import HttpSettings
from ingest.net.guard import AddressPolicy, refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("fe80::1%eth0", "link_local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "not_global"),
        ("192.0.2.10", "private"),
        ("::ffff:127.0.0.1", "embedded loopback"),
        ("::ffff:10.0.0.1", "embedded private"),
        ("::ffff:169.254.169.254", "embedded link_local"),
        ("64:ff9b::7f00:1", "embedded loopback"),
        ("64:ff9b::a00:1", "embedded private"),
        ("64:ff9b:1::7f00:1", "embedded loopback"),
        ("2002:7f00:1::", "embedded loopback"),
        ("2002:c0a8:101::1", "embedded private"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"),
        ("2001::1", "teredo"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert AddressPolicy().check(address) == reason


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "2606:4700::1111",
        "2a00:1450:4001::200e",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",
        "2002:5db8:d822::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().check(address) is None
    assert refusal(ipaddress.ip_address(address.split("%")[0])) is None


@pytest.mark.parametrize("value", ["news.example.org", "localhost", "", "1.2.3", "::g"])
def test_what_is_not_an_ip_literal_is_refused(value: str) -> None:
    assert AddressPolicy(True).check(value) == "not_an_address"


def test_cidr_allowance() -> None:
    policy = AddressPolicy((ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")))
    assert policy.check("10.1.2.3") is None
    assert policy.check("10.255.255.255") is None
    assert policy.check("fd12::1") is None
    # The address embedded in an IPv4-mapped IPv6 address is judged against the IPv4 ranges.
    assert policy.check("::ffff:10.1.2.3") is None
    # Everything outside the ranges keeps being refused.
    assert policy.check("11.0.0.1") is None  # public anyway
    assert policy.check("192.168.1.1") == "private"
    assert policy.check("127.0.0.1") == "loopback"
    assert policy.check("169.254.169.254") == "link_local"
    assert policy.check("fc00::1") == "private"


def test_single_loopback_address_allowance() -> None:
    policy = AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))
    assert policy.check("127.0.0.1") is None
    assert policy.check("127.0.0.2") == "loopback"
    assert policy.check("::1") == "loopback"


def test_allow_all() -> None:
    policy = AddressPolicy(True)
    for address in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "93.184.216.34"):
        assert policy.check(address) is None


def test_allow_none_is_the_default() -> None:
    assert AddressPolicy(False).check("10.0.0.1") == AddressPolicy().check("10.0.0.1") == "private"


def test_policy_from_settings() -> None:
    ranges = HttpSettings(allow_private_networks=("192.168.0.0/16",)).private_allowance
    assert not isinstance(ranges, bool)
    policy = AddressPolicy(ranges)
    assert policy.check("192.168.10.20") is None
    assert policy.check("10.0.0.1") == "private"
    assert (
        AddressPolicy(HttpSettings(allow_private_networks=True).private_allowance).check("10.0.0.1") is None
    )
