"""Where a manifest may point beyond the media roots: public http(s) URLs, and their downloads
(local paths and the roots are curation.media_store's).

A URL's host is checked at ingest when it is an IP literal or a local name, and every address it
resolves to is checked again at download time, on the connection actually used (DNS can change
between the two).
"""

import http.client
import ipaddress
import os
import re
import socket
import ssl
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from curation.errors import InvalidSource

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
MAX_REDIRECTS = 5
_NOT_AN_ADDRESS = re.compile(r"[g-wyzG-WYZ_-]")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_url(raw: str) -> bool:
    return _SCHEME.match(raw) is not None and not re.match(r"^[a-zA-Z]:[\\/]", raw)


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.MICROCURATE_URL_ALLOWED_NETWORKS]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form delivers to: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
    (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d, RFC 6052) and 6to4 (2002:aabb:ccdd::, RFC 3056). The
    host stack, a translator or a relay turns them into the IPv4 address, so they pass only
    when it would."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(ip.packed[12:])
    return None


def address_is_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowed_networks()):
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            # A site's own translator (RFC 8215), to whatever IPv4 network it serves.
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_is_allowed(str(embedded))
    return ip.is_global and not ip.is_multicast


def _literal_address(host: str) -> str | None:
    """The address a host names by itself: IPv4/IPv6 literals and the forms inet_aton reads."""
    if _NOT_AN_ADDRESS.search(host):
        return None  # a name: letters no address form uses (fast path for bulk ingest)
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:  # "2130706433", "0x7f.1", "127.1": all 127.0.0.1 to the resolver.
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def url_validate(raw: str) -> str:
    """Refuse non-http(s) schemes and hosts that are plainly local or private."""
    match = _SCHEME.match(raw)
    scheme = match.group(1).lower() if match else ""
    if scheme == "file":
        raise InvalidSource(f"{raw!r}: file:// URLs are not accepted; give a path under a media root")
    if scheme not in {"http", "https"}:
        raise InvalidSource(f"{raw!r}: the scheme {scheme!r} is not allowed (http or https only)")
    try:
        parts = urlsplit(raw)
        host = parts.hostname
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise InvalidSource(f"{raw!r} is not a valid URL: {exc}") from None
    if not host:
        raise InvalidSource(f"{raw!r} has no host")
    host = host.rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise InvalidSource(f"{raw!r} points at this machine ({host})")
    address = _literal_address(host)
    if address is not None and not address_is_allowed(address):
        raise InvalidSource(f"{raw!r} points at a loopback, private or link-local address ({address})")
    return raw


def _resolve_public(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = [info[4][0] for info in infos]
    refused = [a for a in addresses if not address_is_allowed(a)]
    if refused:
        raise InvalidSource(f"{host!r} resolves to a loopback, private or link-local address ({refused[0]})")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, **kwargs):
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, **kwargs):
        super().__init__(host, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _Transfer:
    """The whole download's clock. Every socket read has its own timeout, but a server that
    drips a byte per read never reaches it: a timer shuts the socket at the deadline (which ends
    a read blocked in headers or body), and the body must keep a minimum rate per window."""

    def __init__(self, url: str):
        self.url = url
        self.seconds = settings.MICROCURATE_DOWNLOAD_DEADLINE
        self.deadline = time.monotonic() + self.seconds
        self.min_rate = settings.MICROCURATE_DOWNLOAD_MIN_RATE
        self.window = settings.MICROCURATE_DOWNLOAD_RATE_WINDOW
        self.expired = threading.Event()
        self._window_start = time.monotonic()
        self._window_bytes = 0

    def timeout(self) -> float:
        """A socket timeout that never reaches past the deadline."""
        self.check()
        return min(settings.MICROCURATE_DOWNLOAD_TIMEOUT, self.deadline - time.monotonic())

    @contextmanager
    def guard(self, connection: http.client.HTTPConnection):
        def cut_off() -> None:
            self.expired.set()
            if connection.sock is not None:
                # The plain socket's shutdown (not SSLSocket's, which is not safe from another
                # thread): the blocked read returns at once, with no data.
                with suppress(OSError):
                    socket.socket.shutdown(connection.sock, socket.SHUT_RDWR)

        timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), cut_off)
        timer.daemon = True
        timer.start()
        try:
            yield
        except (OSError, http.client.HTTPException) as exc:
            self.check()
            if isinstance(exc, http.client.HTTPException):
                # A broken response (cut short, bad chunking): network trouble, tried again later.
                raise OSError(f"{self.url}: {exc!r}") from None
            raise
        finally:
            timer.cancel()

    def body_started(self) -> None:
        self._window_start, self._window_bytes = time.monotonic(), 0

    def received(self, count: int) -> None:
        self.check()
        self._window_bytes += count
        elapsed = time.monotonic() - self._window_start
        if elapsed >= self.window > 0:
            if self._window_bytes < self.min_rate * elapsed:
                raise TimeoutError(
                    f"{self.url}: slower than {self.min_rate} bytes/s "
                    f"({self._window_bytes} bytes in {elapsed:.1f} s)"
                )
            self.body_started()

    def check(self) -> None:
        if self.expired.is_set() or time.monotonic() >= self.deadline:
            raise TimeoutError(f"{self.url}: not downloaded within the {self.seconds} s deadline")


def url_download(url: str, destination: Path) -> int:
    """Download `url` to `destination` (written whole or not at all); returns its size.

    Only a complete body is renamed into place: as long as its Content-Length when one is sent,
    within the deadline and the minimum rate. Raises InvalidSource for URLs that may not be
    fetched (or are too large) and OSError for network trouble, which callers treat as transient.
    """
    limit = settings.MICROCURATE_DOWNLOAD_MAX_BYTES
    transfer = _Transfer(url)
    for _ in range(MAX_REDIRECTS + 1):
        url_validate(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _resolve_public(parts.hostname, port)
        connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(parts.hostname, address, port=port, timeout=transfer.timeout())
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            with transfer.guard(connection):
                connection.request("GET", path, headers={"User-Agent": "MicroCurate"})
                response = connection.getresponse()
                if response.status in {301, 302, 303, 307, 308}:
                    url = urljoin(url, response.getheader("Location", ""))
                    continue
                if response.status >= 500:
                    raise OSError(f"{url}: HTTP {response.status}")
                if response.status != 200:
                    raise InvalidSource(f"{url}: HTTP {response.status} {response.reason}")
                return _write_capped(response, destination, limit, url, transfer)
        finally:
            connection.close()
    raise InvalidSource(f"{url}: more than {MAX_REDIRECTS} redirects")


def _write_capped(
    response: http.client.HTTPResponse, destination: Path, limit: int, url: str, transfer: _Transfer
) -> int:
    declared = response.length  # None when chunked or not sent
    if declared is not None and declared > limit:
        raise InvalidSource(f"{url}: larger than the {limit}-byte download limit (declares {declared} bytes)")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    size = 0
    transfer.body_started()
    try:
        with open(partial, "wb") as out:
            # read1: one socket read at a time, so the clock is checked between reads.
            while chunk := response.read1(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise InvalidSource(f"{url}: larger than the {limit}-byte download limit")
                out.write(chunk)
                transfer.received(len(chunk))
        transfer.check()
        if declared is not None and size != declared:
            raise OSError(f"{url}: the connection closed after {size} of {declared} bytes")
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return size
