"""URL parsing for heron: RFC 3986 splitting and resolution, with the WHATWG URL Standard's
percent-encode sets and host rules.

We don't use ``urllib.parse``: its splitter neither validates ports, hosts and IP literals nor
percent-encodes, and its handling of control characters changes between Python versions. Here a
URL is split as RFC 3986 (appendix B) says, then each part is checked and percent-encoded once,
so that every ``ParseResult`` holds only ASCII text that can go on the wire as it is.
"""

from __future__ import annotations

import enum
import re
from typing import Final

from ._exceptions import InvalidURL

__all__ = [
    "DEFAULT_PORTS",
    "KEEP",
    "MAX_URL_LENGTH",
    "SPECIAL_SCHEMES",
    "Keep",
    "ParseResult",
    "build",
    "decode_host",
    "encode_userinfo",
    "parse_port",
    "percent_encode",
    "quote_path",
    "quote_userinfo",
    "resolve",
    "split_authority",
    "urlparse",
]

# httpx refuses URLs longer than this; so do we (a guard against absurd input, not a protocol
# limit).
MAX_URL_LENGTH: Final = 65536

# Ports that are left out of the URL because they are the scheme's default (WHATWG "special
# schemes").
DEFAULT_PORTS: Final[dict[str, int]] = {"ftp": 21, "http": 80, "https": 443, "ws": 80, "wss": 443}
SPECIAL_SCHEMES: Final = frozenset({"file", "ftp", "http", "https", "ws", "wss"})
# Special schemes whose URLs are meaningless without a host ("file:///tmp" is fine).
_HOST_REQUIRED: Final = frozenset(DEFAULT_PORTS)

# WHATWG percent-encode sets (URL Standard, section 1.3), written as the printable ASCII
# characters each set encodes. Every set also encodes all non-ASCII code points (as UTF-8) and
# the C0 controls and DEL (which urlparse() refuses before it gets that far). "%" is never
# encoded: escapes already present are kept as they are, valid or not, as browsers do.
_FRAGMENT_SET: Final = ' "<>`'
_QUERY_SET: Final = ' "#<>'
_SPECIAL_QUERY_SET: Final = _QUERY_SET + "'"
_PATH_SET: Final = _QUERY_SET + "?`{}"
_USERINFO_SET: Final = _PATH_SET + "/:;=@[\\]^|"


def _encode_set(printable: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(printable) + "\x00-\x1f\x7f-\U0010ffff]+")


_FRAGMENT_UNSAFE: Final = _encode_set(_FRAGMENT_SET)
_QUERY_UNSAFE: Final = _encode_set(_QUERY_SET)
_SPECIAL_QUERY_UNSAFE: Final = _encode_set(_SPECIAL_QUERY_SET)
_PATH_UNSAFE: Final = _encode_set(_PATH_SET)
_USERINFO_UNSAFE: Final = _encode_set(_USERINFO_SET)

_PERCENT_ESCAPES: Final = [f"%{byte:02X}" for byte in range(256)]

# RFC 3986, appendix B, with the scheme checked separately: a "scheme" that breaks the grammar
# (say "1http:" or "a b:") makes the whole text a relative reference, as it does in browsers.
_URI_REFERENCE: Final = re.compile(
    r"""
    (?:(?P<scheme>[^:/?#]+):)?
    (?://(?P<authority>[^/?#]*))?
    (?P<path>[^?#]*)
    (?:\?(?P<query>[^#]*))?
    (?:\#(?P<fragment>.*))?
    """,
    re.VERBOSE | re.DOTALL,
)
_RELATIVE_REFERENCE: Final = re.compile(
    r"""
    (?://(?P<authority>[^/?#]*))?
    (?P<path>[^?#]*)
    (?:\?(?P<query>[^#]*))?
    (?:\#(?P<fragment>.*))?
    """,
    re.VERBOSE | re.DOTALL,
)
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")

# The common case, already clean: a lowercase http(s)/ws(s) URL whose host is a plain domain
# name or a canonical IPv4 address, with no userinfo and nothing to percent-encode. It gets
# through with one regex match.
_IPV4_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_FAST_URL: Final = re.compile(
    rf"""
    (?P<scheme>https?|wss?)://
    (?P<host>
        (?:[a-z0-9_\-]+\.)*[a-z][a-z0-9_\-]*\.?  # last label starts with a letter: not IPv4
        |(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}
    )
    (?::(?P<port>[0-9]{{1,5}}))?
    (?P<path>/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)?
    (?:\?(?P<query>[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*))?
    (?:\#(?P<fragment>[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*))?
    """,
    re.VERBOSE,
)

# C0 controls and DEL are refused anywhere in a URL: a CR or LF that reaches the request line
# is a header injection (the WHATWG parser strips tabs and newlines instead; we say no).
_NON_PRINTABLE: Final = re.compile(r"[\x00-\x1f\x7f]")
# WHATWG "forbidden domain code points", checked after percent-decoding and IDNA.
_FORBIDDEN_DOMAIN: Final = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
# RFC 6874 zone identifier, after its "%25": unreserved characters and escapes.
_ZONE_ID: Final = re.compile(r"(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})+")
_IPV4_DIGITS: Final = {
    8: re.compile(r"[0-7]+"),
    10: re.compile(r"[0-9]+"),
    16: re.compile(r"[0-9a-fA-F]+"),
}
# "."-segments for remove_dot_segments(); WHATWG also counts "%2e" as a dot.
_DOT_SEGMENTS: Final = {".": 1, "%2e": 1, "..": 2, ".%2e": 2, "%2e.": 2, "%2e%2e": 2}
_DOT_SEGMENT: Final = re.compile(r"/(?:\.|%2[eE]){1,2}(?=/|\Z)")


class Keep(enum.Enum):
    """Type of ``KEEP``: "leave this component as it is" in ``build()``."""

    KEEP = "KEEP"


KEEP: Final = Keep.KEEP


class ParseResult:
    """The parts of a parsed URL, each already validated and percent-encoded (ASCII only).

    ``host`` is ``None`` when the URL has no authority ("//") at all, and IPv6 addresses are
    kept without their brackets. ``query`` and ``fragment`` are ``None`` when absent, and ``""``
    when present but empty ("http://a/?").
    """

    __slots__ = (
        "_netloc",
        "_str",
        "fragment",
        "host",
        "path",
        "port",
        "query",
        "scheme",
        "userinfo",
    )

    def __init__(
        self,
        scheme: str,
        userinfo: str,
        host: str | None,
        port: int | None,
        path: str,
        query: str | None,
        fragment: str | None,
    ) -> None:
        self.scheme = scheme
        self.userinfo = userinfo
        self.host = host
        self.port = port
        self.path = path
        self.query = query
        self.fragment = fragment
        self._str: str | None = None
        self._netloc: str | None = None

    @property
    def netloc(self) -> str:
        # Computed once: every request puts it in its Host header.
        if self._netloc is None:
            host = self.host or ""
            if ":" in host:
                host = f"[{host}]"
            self._netloc = host if self.port is None else f"{host}:{self.port}"
        return self._netloc

    @property
    def authority(self) -> str:
        return f"{self.userinfo}@{self.netloc}" if self.userinfo else self.netloc

    def replace_userinfo(self, userinfo: str) -> ParseResult:
        """A copy with ``userinfo`` swapped in as it is (no checks): for ``repr()`` masking."""
        return ParseResult(
            self.scheme, userinfo, self.host, self.port, self.path, self.query, self.fragment
        )

    def __str__(self) -> str:
        if self._str is None:
            parts = []
            if self.scheme:
                parts += [self.scheme, ":"]
            if self.host is not None:
                parts += ["//", self.authority]
            parts.append(self.path)
            if self.query is not None:
                parts += ["?", self.query]
            if self.fragment is not None:
                parts += ["#", self.fragment]
            self._str = "".join(parts)
        return self._str

    def __repr__(self) -> str:
        return f"ParseResult({str(self)!r})"


# URLs parsed so far, by their text. A program requests the same few URLs over and over, and a
# ParseResult never changes, so one serves them all (urllib.parse caches its splits too).
# Emptied when full: a program that moves on to other URLs gets them cached in turn. Long URLs
# (a query carrying data) are not kept, so the cache stays small.
_PARSED: dict[str, ParseResult] = {}
_PARSED_CACHE_SIZE: Final = 128
_PARSED_MAX_LENGTH: Final = 2048


def urlparse(url: str) -> ParseResult:
    """Parse an absolute URL or a relative reference.

    Leading and trailing spaces are dropped; control characters anywhere are an error.
    Raises ``InvalidURL`` naming the part that is wrong. A text parsed recently gives the same
    ``ParseResult`` again.
    """
    if type(url) is not str:
        return _parse_url(url)  # a str subclass: not cached
    parsed = _PARSED.get(url)
    if parsed is None:
        parsed = _parse_url(url)
        if len(url) <= _PARSED_MAX_LENGTH:
            if len(_PARSED) >= _PARSED_CACHE_SIZE:
                _PARSED.clear()
            _PARSED[url] = parsed
    return parsed


def _parse_url(url: str) -> ParseResult:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(
            f"URL too long: {len(url)} characters. "
            f"heron refuses URLs longer than {MAX_URL_LENGTH} characters."
        )
    # Fast path: an already-clean http(s) URL needs no encoding and no host processing.
    match = _FAST_URL.fullmatch(url)
    if match is not None:
        scheme, host, port_text = match["scheme"], match["host"], match["port"]
        path = match["path"] or ""
        port = None if port_text is None else int(port_text)
        # Left to the general parser: ports out of range, possible dot-segments ("/." or
        # "/%2e"), and "xn--" labels, which need checking.
        if (
            (port is None or port <= 65535)
            and "/." not in path
            and "/%" not in path
            and "xn--" not in host
        ):
            if port == DEFAULT_PORTS[scheme]:
                port = None
            return ParseResult(scheme, "", host, port, path, match["query"], match["fragment"])
    return _parse(url)


def _parse(url: str) -> ParseResult:
    bad = _NON_PRINTABLE.search(url)
    if bad is not None:
        raise InvalidURL(
            f"Invalid non-printable character {bad.group()!r} at position {bad.start()} in URL "
            f"{_quoted(url)}. Control characters such as CR, LF, TAB and NUL are not allowed in "
            "URLs: percent-encode them if they are data."
        )
    text = url.strip(" ")
    match = _URI_REFERENCE.fullmatch(text)
    assert match is not None  # every group is optional, so the pattern matches any text
    scheme = match["scheme"]
    if scheme is None or _SCHEME.fullmatch(scheme) is None:
        match = _RELATIVE_REFERENCE.fullmatch(text)
        assert match is not None  # as above
        scheme = ""
    else:
        scheme = scheme.lower()
    special = scheme in SPECIAL_SCHEMES

    authority = match["authority"]
    userinfo, host, port = "", None, None
    if authority is not None:
        raw_userinfo, raw_host, raw_port = split_authority(authority, url)
        if raw_userinfo is not None:
            userinfo = encode_userinfo(raw_userinfo)
        host = _encode_host(raw_host, url)
        port = parse_port(raw_port, url)
        if port is not None and port == DEFAULT_PORTS.get(scheme):
            port = None
        if not host and scheme in _HOST_REQUIRED:
            raise InvalidURL(
                f"Invalid host: the URL {_quoted(url)} has an empty host. "
                f"URLs with the {scheme!r} scheme need one, e.g. '{scheme}://example.com/'."
            )

    path = quote_path(match["path"])
    if path[:1] == "/" and (scheme or host is not None):
        path = _remove_dot_segments(path, host is not None)
    query = match["query"]
    if query is not None:
        query = _quote(query, _SPECIAL_QUERY_UNSAFE if special else _QUERY_UNSAFE)
    fragment = match["fragment"]
    if fragment is not None:
        fragment = _quote(fragment, _FRAGMENT_UNSAFE)
    return ParseResult(scheme, userinfo, host, port, path, query, fragment)


def split_authority(authority: str, url: str = "") -> tuple[str | None, str, str | None]:
    """Split "userinfo@host:port" into its raw parts: (userinfo or None, host, port or None).

    The last "@" ends the userinfo (an unescaped "@" in a password is common); a host in
    square brackets may contain ":".
    """
    userinfo, at, hostport = authority.rpartition("@")
    if hostport[:1] == "[":
        end = hostport.find("]")
        if end == -1:
            raise InvalidURL(
                f"Invalid IPv6 address: {hostport!r}{_in(url)} has no closing ']'. "
                "Write IPv6 addresses in square brackets, e.g. 'http://[::1]:8000/'."
            )
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and rest[0] != ":":
            raise InvalidURL(
                f"Invalid host: {hostport!r}{_in(url)}: only ':' and a port may follow "
                "the ']' of an IPv6 address."
            )
        port = rest[1:] if rest else None
    else:
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
    return (userinfo if at else None), host, port


def parse_port(text: str | None, url: str = "") -> int | None:
    """The port number in ``text`` (ASCII digits only), or ``None`` for a missing/empty port."""
    if not text:
        return None
    # The length check keeps int() away from huge digit strings (and its 4300-digit limit).
    if text.isascii() and text.isdigit() and len(text.lstrip("0")) <= 5:
        port = int(text)
        if port <= 65535:
            return port
    raise InvalidURL(f"Invalid port: {text!r}{_in(url)}. A port must be a number from 0 to 65535.")


def encode_userinfo(userinfo: str) -> str:
    """Percent-encode "username:password"; the first ":" separates the two."""
    username, colon, password = userinfo.partition(":")
    encoded = _quote(username, _USERINFO_UNSAFE)
    return f"{encoded}:{_quote(password, _USERINFO_UNSAFE)}" if colon else encoded


def quote_userinfo(text: str, part: str) -> str:
    """Percent-encode a username or a password on its own (":" and "@" are encoded too)."""
    _check_printable(text, part)
    return _quote(text, _USERINFO_UNSAFE)


def quote_path(path: str) -> str:
    """Percent-encode a path with the WHATWG path set; "%" escapes are kept as they are."""
    return _quote(path, _PATH_UNSAFE)


def _quote(text: str, unsafe: re.Pattern[str]) -> str:
    try:
        return unsafe.sub(percent_encode, text)
    except UnicodeEncodeError:
        surrogate = next(char for char in text if "\ud800" <= char <= "\udfff")
        raise InvalidURL(
            f"Invalid character {surrogate!r} in URL component {text!r}: a lone surrogate "
            "can't be encoded as UTF-8."
        ) from None


def percent_encode(match: re.Match[str]) -> str:
    """``re.sub`` callback: the matched text as UTF-8 percent-escapes ("ü" -> "%C3%BC")."""
    return "".join([_PERCENT_ESCAPES[byte] for byte in match.group().encode("utf-8")])


# Hosts ---------------------------------------------------------------------------------------


def _encode_host(host: str, url: str = "") -> str:
    """Validate a host and return it in its canonical ASCII form.

    WHATWG host parsing: IPv6 literals are validated and compressed; other hosts are
    percent-decoded, lowercased (IDNA/UTS 46 for non-ASCII), checked for forbidden characters,
    and, when the last label is a number, read as an IPv4 address ("0x7f.1" is 127.0.0.1).
    """
    if not host:
        return ""
    if host[0] == "[":
        if host[-1] != "]":
            raise InvalidURL(
                f"Invalid IPv6 address: {host!r}{_in(url)} must end with ']'. "
                "Write IPv6 addresses in square brackets, e.g. 'http://[::1]:8000/'."
            )
        return _encode_ipv6(host[1:-1], url)
    if ":" in host:  # a bare IPv6 address, as URL(host="::1") allows
        return _encode_ipv6(host, url)
    if "%" in host:
        host = _percent_decode_host(host, url)
    domain = host.lower() if host.isascii() else _idna_encode(host, url)
    bad = _FORBIDDEN_DOMAIN.search(domain)
    if bad is not None:
        raise InvalidURL(
            f"Invalid host: {host!r}{_in(url)} contains {bad.group()!r}. A host can't contain "
            "spaces, control characters or any of '#%/:<>?@[\\]^|'."
        )
    if "xn--" in domain:
        _check_a_labels(domain, url)
    if _ends_in_number(domain):
        return _parse_ipv4(domain, url)
    return domain


def _percent_decode_host(host: str, url: str) -> str:
    from urllib.parse import unquote_to_bytes

    try:
        return unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidURL(
            f"Invalid host: {host!r}{_in(url)} has percent-escapes that are not UTF-8."
        ) from None


def _idna_encode(host: str, url: str) -> str:
    # UTS 46 mapping (case folding, full-width forms, the ideographic full stop) for the whole
    # host, then IDNA 2008 for each non-ASCII label. ASCII labels are left as they are, so
    # "my_service.例え.jp" works as "my_service.example.jp" would.
    import idna

    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        labels = [
            label if label.isascii() else idna.alabel(label).decode("ascii")
            for label in mapped.split(".")
        ]
    except idna.IDNAError as exc:
        raise InvalidURL(
            f"Invalid IDNA hostname: {host!r}{_in(url)} is not a valid internationalised "
            f"domain name ({exc})."
        ) from None
    return ".".join(labels)


def _check_a_labels(domain: str, url: str) -> None:
    # UTS 46 validity for "xn--" labels, as WHATWG asks: the Punycode must decode to a
    # non-ASCII label that UTS 46 mapping leaves unchanged. This is looser than IDNA 2008 on
    # purpose: registered names such as "xn--i-7iq.ws" ("i❤.ws") must keep working.
    import idna

    for label in domain.split("."):
        if label[:4] == "xn--":
            try:
                unicode_label = label[4:].encode("ascii").decode("punycode")
                valid = not unicode_label.isascii() and unicode_label == idna.uts46_remap(
                    unicode_label, std3_rules=False, transitional=False
                )
            except UnicodeError:  # idna.IDNAError is a UnicodeError too
                valid = False
            if not valid:
                raise InvalidURL(
                    f"Invalid IDNA hostname: {domain!r}{_in(url)}: the label {label!r} is not "
                    "valid Punycode for an internationalised name."
                )


def decode_host(host: str) -> str:
    """The Unicode form of a host from ``_encode_host``: "xn--" labels decoded."""
    if "xn--" not in host:
        return host
    return ".".join(
        label[4:].encode("ascii").decode("punycode") if label[:4] == "xn--" else label
        for label in host.split(".")
    )


def _encode_ipv6(address: str, url: str) -> str:
    import ipaddress

    address, percent, zone = address.partition("%")
    # An RFC 6874 zone identifier is written "%25" + zone inside the brackets.
    if percent and not (zone[:2] == "25" and _ZONE_ID.fullmatch(zone[2:])):
        raise InvalidURL(
            f"Invalid IPv6 address: {address + percent + zone!r}{_in(url)}: a zone identifier "
            "must be written as '%25' followed by the zone, e.g. '[fe80::1%25eth0]'."
        )
    try:
        compressed = ipaddress.IPv6Address(address).compressed
    except ValueError:
        raise InvalidURL(
            f"Invalid IPv6 address: {address!r}{_in(url)}. "
            "Write a valid IPv6 address in square brackets, e.g. 'http://[2001:db8::1]/'."
        ) from None
    return compressed + percent + zone


def _ends_in_number(domain: str) -> bool:
    # WHATWG "ends in a number": the last label (a trailing "." aside) is decimal or 0x-hex.
    labels = domain.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    if last.isdigit():
        return True
    return last[:2] == "0x" and (
        len(last) == 2 or _IPV4_DIGITS[16].fullmatch(last[2:]) is not None
    )


def _parse_ipv4(domain: str, url: str) -> str:
    parts = domain.split(".")
    if parts[-1] == "":
        parts.pop()
    values: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None or len(parts) > 4:
            raise InvalidURL(
                f"Invalid IPv4 address: {domain!r}{_in(url)}. A host that ends in a number is "
                "read as an IPv4 address: up to four numbers separated by '.'."
            )
        values.append(number)
    *head, last = values
    if any(value > 255 for value in head) or last >= 256 ** (5 - len(values)):
        raise InvalidURL(
            f"Invalid IPv4 address: {domain!r}{_in(url)}. Each part of an IPv4 address must be "
            "a number from 0 to 255."
        )
    address = last
    for index, value in enumerate(head):
        address += value << (8 * (3 - index))
    return ".".join(str((address >> shift) & 255) for shift in (24, 16, 8, 0))


def _ipv4_number(part: str) -> int | None:
    # WHATWG IPv4 number parser: decimal, 0x-hex or 0-octal, as inet_aton() reads them.
    if not part:
        return None
    if part[:2] == "0x":
        digits, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits:
        return 0
    if _IPV4_DIGITS[base].fullmatch(digits) is None:
        return None
    digits = digits.lstrip("0") or "0"
    # Anything this long is out of range; don't hand int() a huge string.
    return int(digits, base) if len(digits) <= 12 else 1 << 40


# Paths and resolution ------------------------------------------------------------------------


def _remove_dot_segments(path: str, has_authority: bool) -> str:
    """RFC 3986 section 5.2.4, also reading "%2e" as "." (WHATWG)."""
    # Fast path: no segment can be a dot-segment.
    if _DOT_SEGMENT.search(path) is None and path[:1] != "." and path[:3].lower() != "%2e":
        return path
    segments = path.split("/")
    output: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        dots = _DOT_SEGMENTS.get(segment.lower()) if len(segment) <= 6 else None
        if dots is None:
            output.append(segment)
            continue
        # ".." removes the previous segment, but never the empty one before a leading "/".
        if dots == 2 and (len(output) > 1 or (output and output[0] != "")):
            output.pop()
        if index == last:  # "a/." and "a/.." keep their trailing slash
            output.append("")
    result = "/".join(output)
    if not has_authority and result[:2] == "//":
        # Without an authority a path can't start with "//" (it would read as a host), so keep
        # a "/." in front, as the WHATWG serialiser does.
        result = "/." + result
    return result


def resolve(base: ParseResult, reference: ParseResult) -> ParseResult:
    """Resolve ``reference`` against ``base`` (RFC 3986 section 5.2.2)."""
    scheme = reference.scheme
    if scheme == base.scheme and scheme in SPECIAL_SCHEMES and reference.host is None:
        # "http:g" against an http base is relative: RFC 3986's "non-strict" reading, and what
        # browsers do.
        scheme = ""
    if scheme:
        return reference
    scheme = base.scheme
    host: str | None
    if reference.host is not None:
        userinfo, host, port = reference.userinfo, reference.host, reference.port
        path, query = reference.path, reference.query
        if port is not None and port == DEFAULT_PORTS.get(scheme):
            port = None
        if not host and scheme in _HOST_REQUIRED:
            raise InvalidURL(
                f"Invalid host: {str(reference)!r} has an empty host, and URLs with the "
                f"{scheme!r} scheme need one."
            )
    else:
        userinfo, host, port = base.userinfo, base.host, base.port
        if not reference.path:
            path = base.path
            query = base.query if reference.query is None else reference.query
        else:
            path = reference.path
            if path[0] != "/":
                path = _merge_paths(base, path)
            path = _remove_dot_segments(path, host is not None)
            if not scheme and host is None and ":" in path.partition("/")[0]:
                # Only with a relative base: "./a:b" must not come out as a scheme "a".
                path = "./" + path
            query = reference.query
    if query and scheme in SPECIAL_SCHEMES:
        # A relative reference was encoded without knowing its scheme; special schemes also
        # encode "'" in the query.
        query = query.replace("'", "%27")
    return ParseResult(scheme, userinfo, host, port, path, query, reference.fragment)


def _merge_paths(base: ParseResult, path: str) -> str:
    # RFC 3986 section 5.2.3.
    if base.host is not None and not base.path:
        return "/" + path
    return base.path[: base.path.rfind("/") + 1] + path


# Building from components --------------------------------------------------------------------


def build(
    base: ParseResult,
    *,
    scheme: str | Keep = KEEP,
    userinfo: str | Keep = KEEP,
    host: str | Keep | None = KEEP,
    port: int | Keep | None = KEEP,
    path: str | Keep = KEEP,
    query: str | Keep | None = KEEP,
    fragment: str | Keep | None = KEEP,
) -> ParseResult:
    """A copy of ``base`` with the given components replaced, each checked and encoded.

    Components are given as text that may already contain percent-escapes; ``host`` and
    ``port`` as for ``URL(host=..., port=...)``.
    """
    if scheme is KEEP:
        scheme = base.scheme
    elif scheme:
        if _SCHEME.fullmatch(scheme) is None:
            raise InvalidURL(
                f"Invalid scheme: {scheme!r}. A scheme starts with a letter and contains only "
                "letters, digits, '+', '-' and '.'."
            )
        scheme = scheme.lower()

    if userinfo is KEEP and host is KEEP and port is KEEP:
        userinfo, new_host, port = base.userinfo, base.host, base.port
    else:
        if userinfo is KEEP:
            userinfo = base.userinfo
        else:
            _check_printable(userinfo, "userinfo")
            userinfo = encode_userinfo(userinfo)
        if host is KEEP:
            host = base.host
        elif host is not None:
            _check_printable(host, "host")
            host = _encode_host(host)
        if port is KEEP:
            port = base.port
        elif port is not None and not 0 <= port <= 65535:
            raise InvalidURL(f"Invalid port: {port!r}. A port must be a number from 0 to 65535.")
        # An authority exists if any of its parts does; URL(port=8000) is "//:8000".
        new_host = (host or "") if (host or userinfo or port is not None) else None
    if port is not None and port == DEFAULT_PORTS.get(scheme):
        port = None
    if not new_host and new_host is not None and scheme in _HOST_REQUIRED:
        raise InvalidURL(
            f"Invalid host: a URL with the {scheme!r} scheme and userinfo or a port needs a "
            "host, e.g. host='example.com'."
        )

    if path is KEEP:
        path = base.path
    else:
        _check_printable(path, "path")
        if "?" in path or "#" in path:
            raise InvalidURL(
                f"Invalid path: {path!r} contains '?' or '#'. Pass the query as query= or "
                "params=, or percent-encode the characters ('%3F', '%23') if they belong to "
                "the path."
            )
        path = quote_path(path)
        if path[:1] == "/" and (scheme or new_host is not None):
            path = _remove_dot_segments(path, new_host is not None)
    if new_host is not None and path and path[0] != "/":
        raise InvalidURL(
            f"Invalid path: {path!r}. In a URL with a host, the path must be empty or "
            "start with '/'."
        )
    if new_host is None and path[:2] == "//":
        raise InvalidURL(
            f"Invalid path: {path!r}. Without a host, a path can't start with '//' "
            "(it would be read as the host)."
        )
    if not scheme and new_host is None:
        first, colon, _ = path.partition("/")[0].partition(":")
        if colon and _SCHEME.fullmatch(first):
            raise InvalidURL(
                f"Invalid path: {path!r}. The ':' in its first segment would be read as a "
                f"scheme; write './{path}' for a relative path."
            )

    if query is KEEP:
        query = base.query
    elif query is not None:
        _check_printable(query, "query")
        if "#" in query:
            raise InvalidURL(
                f"Invalid query: {query!r} contains '#'. Percent-encode it as '%23', or pass "
                "the fragment as fragment=."
            )
        query = _quote(
            query, _SPECIAL_QUERY_UNSAFE if scheme in SPECIAL_SCHEMES else _QUERY_UNSAFE
        )

    if fragment is KEEP:
        fragment = base.fragment
    elif fragment is not None:
        _check_printable(fragment, "fragment")
        fragment = _quote(fragment, _FRAGMENT_UNSAFE)
    return ParseResult(scheme, userinfo, new_host, port, path, query, fragment)


def _check_printable(text: str, part: str) -> None:
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        raise InvalidURL(
            f"Invalid non-printable character {bad.group()!r} at position {bad.start()} in "
            f"{part} {text!r}. Control characters such as CR, LF, TAB and NUL are not allowed "
            "in URLs: percent-encode them if they are data."
        )


# Error messages ------------------------------------------------------------------------------

_AUTHORITY: Final = re.compile(r"(?:[^:/?#]+:)?//(?P<userinfo>[^/?#]*)@")


def _quoted(url: str) -> str:
    """``url`` for an error message: the password masked, very long URLs shortened."""
    match = _AUTHORITY.match(url)
    if match is not None and ":" in match["userinfo"]:
        start, end = match.span("userinfo")
        username = match["userinfo"].partition(":")[0]
        url = f"{url[:start]}{username}:[secure]{url[end:]}"
    if len(url) > 200:
        url = url[:200] + "..."
    return repr(url)


def _in(url: str) -> str:
    return f" in {_quoted(url)}" if url else ""
