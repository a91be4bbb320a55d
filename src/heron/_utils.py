"""Small parsing helpers shared by the models: header parameters, ``Link`` headers, charsets.

Each helper is a pure function over strings, forgiving of malformed input (a server's odd
header must never become an exception in the user's code), with no I/O.
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "get_charset",
    "is_http_token",
    "is_text_encoding",
    "parse_header_links",
    "parse_header_params",
    "unquote_header_value",
]

# RFC 9110 section 5.6.2: token = 1*tchar, the grammar of methods and header parameter names.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# A header parameter: `; name = value`, where value is a token or a quoted-string
# (RFC 9110 section 5.6.6). Unquoted values run to the next ';' so sloppy values still parse.
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')

# Link header (RFC 8288 section 3): `<URI-Reference> *( ";" link-param )`, comma separated.
_LINK_TARGET = re.compile(r"\s*<([^>]*)>")
_LINK_PARAM = re.compile(r'\s*;\s*([^\s=;,]*)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,]*)))?')
# Everything up to the next top-level comma, treating quoted strings as opaque.
_UP_TO_COMMA = re.compile(r'(?:[^,"]+|"(?:[^"\\]|\\.)*"?)*')
_QUOTED_PAIR = re.compile(r"\\(.)")


def is_http_token(value: str) -> bool:
    """Whether ``value`` is a non-empty RFC 9110 token (what a method name must be)."""
    return _TOKEN.fullmatch(value) is not None


def unquote_header_value(value: str) -> str:
    """Strip surrounding whitespace, and the quotes and backslash escapes of a quoted-string."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return _QUOTED_PAIR.sub(r"\1", value[1:-1])
    return value


def parse_header_params(value: str) -> dict[str, str]:
    """The ``name=value`` parameters after the first ``;`` of a header such as Content-Type.

    Names are lower-cased; values are unquoted but otherwise kept as sent. The first
    occurrence of a repeated name wins::

        >>> parse_header_params('multipart/form-data; Boundary="a b"; charset=utf-8')
        {'boundary': 'a b', 'charset': 'utf-8'}
    """
    params: dict[str, str] = {}
    for match in _PARAM.finditer(value):
        params.setdefault(match.group(1).lower(), unquote_header_value(match.group(2)))
    return params


def get_charset(content_type: str | None) -> str | None:
    """The lower-cased ``charset`` parameter of a Content-Type value, or None if it has none."""
    # Fast path: most Content-Type values carry no parameters at all.
    if not content_type or ";" not in content_type:
        return None
    return parse_header_params(content_type).get("charset", "").lower() or None


@functools.lru_cache(maxsize=128)
def is_text_encoding(name: str) -> bool:
    """Whether Python can decode bytes to text with the codec ``name``.

    Rejects unknown names and the bytes-to-bytes codecs (``hex``, ``base64``, ``zlib``...) that
    ``codecs.lookup`` accepts but ``bytes.decode`` refuses.
    """
    try:
        # Not b"": decoding empty bytes succeeds without looking the codec up at all.
        b"a".decode(name, "ignore")
    except (LookupError, UnicodeError):  # UnicodeError: the "undefined" codec
        return False
    return True


def parse_header_links(value: str) -> list[dict[str, str]]:
    """Parse a ``Link`` header (RFC 8288) into one dict per link.

    Each dict has the target under ``"url"`` and every parameter under its lower-cased name
    (the first occurrence wins, as RFC 8288 asks for ``rel``). Malformed parts are skipped::

        >>> parse_header_links('<https://api.example.org/?page=2>; rel="next"')
        [{'url': 'https://api.example.org/?page=2', 'rel': 'next'}]
    """
    links: list[dict[str, str]] = []
    end = len(value)
    pos = 0
    while pos < end:
        target = _LINK_TARGET.match(value, pos)
        if target is not None:
            link = {"url": target.group(1).strip()}
            pos = target.end()
            while (param := _LINK_PARAM.match(value, pos)) is not None:
                name, quoted, token = param.groups()
                if quoted is not None:
                    param_value = _QUOTED_PAIR.sub(r"\1", quoted)
                else:
                    param_value = (token or "").strip()
                if name:
                    link.setdefault(name.lower(), param_value)
                pos = param.end()
            links.append(link)
        # Skip whatever is left of this link-value (junk included) and its comma. The
        # pattern can match the empty string, so it always matches.
        rest = _UP_TO_COMMA.match(value, pos)
        pos = (rest.end() if rest else pos) + 1
    return links
