"""The SSRF guard: only public addresses, however the host is spelled or resolves, and a send
goes to the address that was checked. A stub resolver stands in for DNS."""

import ipaddress
import uuid

import httpx
import pytest

from app.integrations.delivery import Claimed, attempt, sender_client
from app.integrations.guard import Guard, UnsafeUrl

pytestmark = pytest.mark.anyio


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def refused(url: str, *addresses: str, guard: Guard | None = None) -> str:
    guard = guard or Guard(resolver=resolving_to(*addresses))
    with pytest.raises(UnsafeUrl) as caught:
        await guard.check(url)
    return str(caught.value)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    ],
)
async def test_a_host_resolving_to_a_non_public_address_is_refused(address: str) -> None:
    assert "not public" in await refused("https://hooks.example.com/x", address)


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    await refused("https://hooks.example.com/x", "93.184.215.14", "10.0.0.1")


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://017700000001/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::1]:8443/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[64:ff9b::a9fe:a9fe]/",
    ],
)
async def test_odd_spellings_of_internal_addresses_are_refused_without_dns(url: str) -> None:
    # The resolver would say "public": literals never reach it.
    await refused(url, "93.184.215.14")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https://user:pass@hooks.example.com/x", "credentials"),
        ("https://user@hooks.example.com/x", "credentials"),
        ("https:///x", "no host"),
        ("https://hooks.example.com:99999/x", "valid URL"),
    ],
)
async def test_the_url_itself_must_be_https_without_credentials(url: str, reason: str) -> None:
    assert reason in await refused(url, "93.184.215.14")


async def test_a_public_address_is_where_the_request_goes_with_the_name_kept() -> None:
    guard = Guard(resolver=resolving_to("93.184.215.14"))
    target = await guard.check("https://hooks.example.com:8443/in?x=1")
    assert target.address == ipaddress.ip_address("93.184.215.14")
    assert target.connect_url == "https://93.184.215.14:8443/in?x=1"
    assert target.host_header == "hooks.example.com:8443"


async def test_allowed_networks_and_http_open_loopback_for_tests() -> None:
    guard = Guard.from_settings(True, ["127.0.0.0/8"], resolving_to("127.0.0.1"))
    target = await guard.check("http://receiver.test:8080/x")
    assert target.connect_url == "http://127.0.0.1:8080/x"
    # Other private ranges stay closed.
    private = Guard.from_settings(True, ["127.0.0.0/8"], resolving_to("10.0.0.1"))
    await refused("http://receiver.test/x", guard=private)


async def test_dns_rebinding_cannot_move_a_send_to_an_internal_address() -> None:
    """The name resolves to a public address at registration and to loopback at send time:
    the send is refused, and nothing connects."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    guard = Guard(resolver=rebinding)
    await guard.check("https://rebind.example.com/x")
    claimed = Claimed(
        id=uuid.uuid4(),
        webhook_id=uuid.uuid4(),
        body="{}",
        attempts=0,
        url="https://rebind.example.com/x",
        secrets=["whsec_" + "A" * 43 + "="],
        lease="x",
    )
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    result = await attempt(client, guard, claimed, 5)
    assert result.outcome == "refused"
    assert calls == []


async def test_a_redirect_to_the_metadata_service_is_not_followed() -> None:
    """The receiver answers 302 to 169.254.169.254: the attempt is a failure, and the client
    never asks the metadata address."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    guard = Guard(resolver=resolving_to("93.184.215.14"))
    client = sender_client(4, 5)
    client._transport = httpx.MockTransport(handler)  # the real client's settings, no network
    claimed = Claimed(
        id=uuid.uuid4(),
        webhook_id=uuid.uuid4(),
        body="{}",
        attempts=0,
        url="https://hooks.example.com/x",
        secrets=["whsec_" + "A" * 43 + "="],
        lease="x",
    )
    result = await attempt(client, guard, claimed, 5)
    assert result.outcome == "failed"
    assert result.status_code == 302
    assert asked == ["https://93.184.215.14/x"]
    assert client.follow_redirects is False
    assert client.trust_env is False
