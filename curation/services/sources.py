"""Where a manifest may point: files under the allowed media roots, public http(s) URLs.

A path is resolved (symlinks included) before it is compared with the roots, so `../..` and
symlinks that leave a root are refused. A URL's host is checked at ingest when it is an IP
literal or a local name, and every address it resolves to is checked again at download time,
on the connection actually used (DNS can change between the two).
"""

import http.client
import ipaddress
import os
import re
import socket
import ssl
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from curation.errors import InvalidSource

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
MAX_REDIRECTS = 5
_NOT_AN_ADDRESS = re.compile(r"[g-wyzG-WYZ_-]")


def media_roots() -> list[Path]:
    roots = [settings.MEDIA_ROOT, *settings.MICROCURATE_MEDIA_ROOTS]
    return [Path(os.path.realpath(root)) for root in roots]


def is_url(raw: str) -> bool:
    return _SCHEME.match(raw) is not None and not re.match(r"^[a-zA-Z]:[\\/]", raw)


def local_path_resolve(raw: str, *, base_dir: Path | None = None, must_exist: bool = True) -> Path:
    """The real path of `raw` (relative paths start at `base_dir`), if it lies under a root."""
    if not raw or not raw.strip():
        raise InvalidSource("the path is empty")
    if "\x00" in raw:
        raise InvalidSource("the path contains a NUL byte")
    path = Path(raw)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    real = Path(os.path.realpath(path))
    if not any(real == root or root in real.parents for root in media_roots()):
        raise InvalidSource(
            f"{raw!r} resolves to {str(real)!r}, outside the allowed media roots "
            "(MEDIA_ROOT and MICROCURATE_MEDIA_ROOTS)"
        )
    if must_exist:
        if not real.exists():
            raise InvalidSource(f"{raw!r}: no such file")
        if not real.is_file():
            raise InvalidSource(f"{raw!r} is not a regular file")
    return real


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.MICROCURATE_URL_ALLOWED_NETWORKS]


def address_is_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowed_networks()):
        return True
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


def url_download(url: str, destination: Path) -> int:
    """Download `url` to `destination` (written whole or not at all); returns its size.

    Raises InvalidSource for URLs that may not be fetched and OSError for network trouble,
    which callers treat as transient.
    """
    limit = settings.MICROCURATE_DOWNLOAD_MAX_BYTES
    for _ in range(MAX_REDIRECTS + 1):
        url_validate(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _resolve_public(parts.hostname, port)
        connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(
            parts.hostname, address, port=port, timeout=settings.MICROCURATE_DOWNLOAD_TIMEOUT
        )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            connection.request("GET", path, headers={"User-Agent": "MicroCurate"})
            response = connection.getresponse()
            if response.status in {301, 302, 303, 307, 308}:
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if response.status >= 500:
                raise OSError(f"{url}: HTTP {response.status}")
            if response.status != 200:
                raise InvalidSource(f"{url}: HTTP {response.status} {response.reason}")
            return _write_capped(response, destination, limit, url)
        finally:
            connection.close()
    raise InvalidSource(f"{url}: more than {MAX_REDIRECTS} redirects")


def _write_capped(response, destination: Path, limit: int, url: str) -> int:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    size = 0
    try:
        with open(partial, "wb") as out:
            while chunk := response.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise InvalidSource(f"{url}: larger than the {limit}-byte download limit")
                out.write(chunk)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return size
