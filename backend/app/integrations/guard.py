"""The SSRF guard: a webhook URL may only reach public addresses.

Checked at registration and again at every send, where the request goes to the very address
that was checked (not to the name, which a rebinding DNS server could point elsewhere a moment
later): the URL's host is replaced by the address, while the `Host` header and the TLS server
name (SNI, and so the certificate check) keep the name. Redirects are never followed and proxy
settings from the environment are ignored (`sender_client`).

An address is refused unless it is global unicast, after unwrapping the IPv6 forms that carry
an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`):
loopback, private, link-local (169.254.169.254, the cloud metadata service), multicast, CGNAT
100.64/10, unspecified and reserved ranges all fail `is_global`. Host spellings that the C
resolver reads as IPv4 (`2130706433`, `0x7f.1`, `127.1`) are read the same way here first, so
they are checked as the address they mean. `WEBHOOK_ALLOW_HOSTS` names networks allowed anyway.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses it resolves to (tests inject a stub).
Resolver = Callable[[str, int], Awaitable[list[str]]]

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Labels a C resolver reads as numbers (decimal, octal, hex): such a "name" is an IPv4 address.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)


class UnsafeUrl(ValueError):
    """The URL may not be called: the message says why (shown to the user)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`) and what to call it (`host`)."""

    url: SplitResult
    host: str
    port: int
    address: Address

    @property
    def connect_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return self.url._replace(netloc=f"{literal}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        default = 443 if self.url.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class Guard:
    allow_http: bool = False
    allowed: tuple[Network, ...] = ()
    resolver: Resolver = system_resolver

    @classmethod
    def from_settings(
        cls, allow_http: bool, allow_hosts: Sequence[str], resolver: Resolver = system_resolver
    ) -> "Guard":
        networks = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in allow_hosts)
        return cls(allow_http, networks, resolver)

    def parse(self, url: str) -> tuple[SplitResult, str, int]:
        """The URL's own checks, without DNS: scheme, credentials, host, port."""
        try:
            parsed = urlsplit(url)
            port = parsed.port
        except ValueError:
            raise UnsafeUrl("is not a valid URL") from None
        schemes = {"https", "http"} if self.allow_http else {"https"}
        if parsed.scheme not in schemes:
            raise UnsafeUrl("must be an https URL")
        if parsed.username is not None or parsed.password is not None or "@" in parsed.netloc:
            raise UnsafeUrl("must not contain credentials")
        host = (parsed.hostname or "").rstrip(".")
        if not host:
            raise UnsafeUrl("has no host")
        if parsed.fragment:
            raise UnsafeUrl("must not have a fragment")
        return parsed, host, port or (443 if parsed.scheme == "https" else 80)

    async def check(self, url: str) -> Target:
        """Resolve the URL's host and check every address; the first one is where to connect.
        Raises UnsafeUrl when any address is not public (or the host does not resolve)."""
        parsed, host, port = self.parse(url)
        addresses = [_literal(host)] if _is_literal(host) else await self._resolve(host, port)
        if not addresses:
            raise UnsafeUrl("does not resolve")
        for address in addresses:
            if not self.is_allowed(address):
                raise UnsafeUrl("resolves to an address that is not public")
        return Target(parsed, host, port, addresses[0])

    async def _resolve(self, host: str, port: int) -> list[Address]:
        try:
            found = await self.resolver(host, port)
        except (OSError, UnicodeError):
            raise UnsafeUrl("does not resolve") from None
        addresses = []
        for text in found:
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                raise UnsafeUrl("resolves to something that is not an address") from None
        return addresses

    def is_allowed(self, address: Address) -> bool:
        candidates = [address]
        inner = embedded_ipv4(address)
        if inner is not None:
            candidates.append(inner)
        if any(candidate in network for candidate in candidates for network in self.allowed):
            return True
        return all(_is_public(candidate) for candidate in candidates)


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4."""
    if address.version == 4:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _is_public(address: Address) -> bool:
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _is_literal(host: str) -> bool:
    return ":" in host or bool(_NUMERIC_HOST.match(host))


def _literal(host: str) -> Address:
    """An address written in the host: IPv6, or IPv4 in any spelling inet_aton accepts."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        raise UnsafeUrl("has a host that is not a valid address") from None
