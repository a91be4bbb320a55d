"""Mount patterns (`"all://*.example.com:8080"`) and the proxies the environment asks for.

A client routes each request to the transport mounted on the most specific pattern that matches
its URL. Proxy environment variables become such mounts: ``HTTP_PROXY`` mounts a proxy on
``http://``, ``NO_PROXY`` mounts ``None`` (the client's own transport) on the hosts, domains,
addresses and networks it lists.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.request import getproxies

from ._urls import URL

__all__ = ["URLPattern", "get_environment_proxies"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_PATTERN_RE = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$")


class URLPattern:
    """A mount key: a scheme (``all`` for any), then optionally a host pattern and a port.

    Host patterns: ``example.com`` (that host), ``*.example.com`` (its subdomains only),
    ``*example.com`` (the domain and its subdomains), ``*`` (any host), an IP address, or a
    network in CIDR form (``10.0.0.0/8``), which matches the IP addresses inside it.
    """

    __slots__ = ("_host", "_network", "_port", "_scheme", "pattern", "priority")

    def __init__(self, pattern: str) -> None:
        match = _PATTERN_RE.match(pattern)
        if match is None:
            raise ValueError(
                f"Invalid mount pattern {pattern!r}: use a scheme followed by '://', "
                "for example 'all://', 'https://' or 'all://*.example.com'."
            )
        self.pattern = pattern
        self._scheme = match["scheme"].lower()
        rest = match["rest"].rstrip("/")
        host, port = _split_host_port(rest, pattern)
        self._network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        if "/" in host:
            try:
                self._network = ipaddress.ip_network(
                    host.replace("[", "").replace("]", ""), strict=False
                )
            except ValueError:
                raise ValueError(
                    f"Invalid mount pattern {pattern!r}: {host!r} is neither a host nor a "
                    "network in CIDR form such as '10.0.0.0/8'."
                ) from None
        self._host = host.lower().strip("[]")
        self._port = port
        # Sort key: a port beats no port, a longer host beats a shorter one, and a named
        # scheme beats "all". Larger is more specific.
        self.priority = (
            port is not None,
            len(self._host) if self._host != "*" else 0,
            self._scheme != "all",
        )

    def matches(self, url: URL) -> bool:
        """Whether a request to ``url`` should go to the transport mounted here."""
        if self._scheme != "all" and url.scheme != self._scheme:
            return False
        if self._port is not None and (url.port or _DEFAULT_PORTS.get(url.scheme)) != self._port:
            return False
        host = self._host
        if not host or host == "*":
            return True
        url_host = url.host.lower()
        if self._network is not None:
            try:
                return ipaddress.ip_address(url_host) in self._network
            except ValueError:
                return False
        if host.startswith("*."):
            return url_host.endswith(host[1:])
        if host.startswith("*"):
            return url_host == host[1:] or url_host.endswith("." + host[1:])
        return url_host == host

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URLPattern) and self.pattern == other.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __lt__(self, other: URLPattern) -> bool:
        # sorted() puts the most specific pattern first.
        return self.priority > other.priority

    def __repr__(self) -> str:
        return f"URLPattern({self.pattern!r})"


def _split_host_port(rest: str, pattern: str) -> tuple[str, int | None]:
    if rest.startswith("["):  # an IPv6 literal, possibly with a port or a prefix length
        host, _, tail = rest[1:].partition("]")
        if tail.startswith("/"):
            return f"[{host}]{tail}", None
        port_text = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host, port_text = rest, ""
    if not port_text:
        return host, None
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(
            f"Invalid mount pattern {pattern!r}: the port {port_text!r} must be a number "
            "from 0 to 65535."
        )
    return host, int(port_text)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def get_environment_proxies() -> dict[str, str | None]:
    """Map the proxy environment variables to mount patterns.

    ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``ALL_PROXY`` (any case) give proxy URLs for
    ``http://``, ``https://`` and ``all://``; each ``NO_PROXY`` entry maps to ``None``, meaning
    "no proxy here". ``NO_PROXY=*`` turns proxies off altogether.
    """
    proxy_info = getproxies()
    mounts: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if proxy_info.get(scheme):
            hostname = proxy_info[scheme]
            mounts[f"{scheme}://"] = hostname if "://" in hostname else f"http://{hostname}"

    no_proxy_hosts = [host.strip() for host in proxy_info.get("no", "").split(",")]
    for hostname in no_proxy_hosts:
        if not hostname:
            continue
        if hostname == "*":
            # Everything bypasses the proxies; what is left are no mounts at all.
            return {}
        if "://" in hostname:
            mounts[hostname] = None
        elif "/" in hostname:  # a network in CIDR form
            address = hostname.partition("/")[0]
            wrapped = f"[{hostname}]" if ":" in address else hostname
            mounts[f"all://{wrapped}"] = None
        elif _is_ip(hostname):
            mounts[f"all://[{hostname}]" if ":" in hostname else f"all://{hostname}"] = None
        elif hostname.lower() == "localhost":
            mounts["all://localhost"] = None
        else:
            # "example.com" covers the domain and its subdomains; ".example.com" only the latter.
            mounts[f"all://*{hostname}"] = None
    return mounts
