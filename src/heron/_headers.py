"""``Headers``: the case-insensitive, ordered multi-dict used for request and response headers.

Entries are kept as ``(raw name, lower-cased name, value)`` byte triples, so the name is
lower-cased once, when it is added, and the exact bytes given (or received) go on the wire.
Names and values are checked on the way in: a header that could split the message (CR, LF or
NUL) or a name that is not an RFC 9110 token is refused before anything is sent.
"""

from __future__ import annotations

import codecs
from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._exceptions import LocalProtocolError

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ._types import HeaderTypes

__all__ = ["Headers"]

_T = TypeVar("_T")

# RFC 9110 section 5.6.2: field-name = token; tchar is every visible ASCII character except
# the delimiters "(),/:;<=>?@[\]{} and DQUOTE. `bytes.translate(None, TCHARS)` deletes them,
# so a name made only of tchars leaves nothing behind.
TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# RFC 9110 section 5.5: CR, LF and NUL in a field value are "invalid and dangerous".
FORBIDDEN_CHARS = {13: "a carriage return (CR)", 10: "a line feed (LF)", 0: "NUL"}

# RFC 9110 section 5.5: a field value excludes leading and trailing whitespace.
OPTIONAL_WHITESPACE = b" \t"

# Shown instead of the value in repr(), so credentials don't end up in logs and tracebacks.
SECURE_HEADERS = frozenset({"authorization", "proxy-authorization"})

# Validated names, `name -> (raw bytes, lower-cased bytes)`. A program sends the same few dozen
# header names over and over; this turns the check into a dictionary lookup. Bounded, so
# generated names can't grow it without limit. str and bytes names are kept apart: "a" and
# b"a" hash alike, and comparing them raises BytesWarning under `python -bb`.
_NAME_CACHE: dict[str, tuple[bytes, bytes]] = {}
_RAW_NAME_CACHE: dict[bytes, tuple[bytes, bytes]] = {}
_NAME_CACHE_SIZE = 1024
# Lookup keys (`"content-type" in headers`), `str -> lower-cased bytes`, bounded the same way:
# the library and its users look up the same few names for every message.
_LOOKUP_CACHE: dict[str, bytes] = {}

# What a lookup key that can't name a header (non-ASCII) is compared with: matches no entry.
_NO_NAME = b"\n"


class Headers(MutableMapping[str, str]):
    """HTTP headers: a case-insensitive multi-dict that keeps order and the names' case.

    Reading a name that appears more than once joins its values with ``", "``; use
    ``get_list()`` or ``multi_items()`` to see them one by one. Setting a name replaces every
    value it had. Names and values may be given as ``str`` or ``bytes``::

        >>> headers = heron.Headers([("Accept", "text/html"), ("accept", "application/json")])
        >>> headers["ACCEPT"]
        'text/html, application/json'
        >>> headers.get_list("accept")
        ['text/html', 'application/json']
        >>> headers.raw
        [(b'Accept', b'text/html'), (b'accept', b'application/json')]

    Text values are encoded as ASCII, or as UTF-8 when they are not ASCII (or with
    ``encoding`` when given). When reading, values are decoded with ``encoding``: given, set
    later, or detected from the bytes (ASCII, else UTF-8, else ISO-8859-1).

    ``len()`` counts header lines, as httpx does, while iterating yields each name once.

    Raises ``heron.LocalProtocolError`` for a name that is not a valid token or a name or value
    containing CR, LF or NUL, and ``TypeError`` for a name or value that is not ``str`` or
    ``bytes`` (``None`` included).
    """

    __slots__ = ("_detected_encoding", "_encoding", "_list")

    _list: list[tuple[bytes, bytes, bytes]]
    _encoding: str | None
    _detected_encoding: str | None

    def __init__(self, headers: HeaderTypes | None = None, encoding: str | None = None) -> None:
        if encoding is not None:
            _check_encoding(encoding)
        self._encoding = encoding
        self._detected_encoding = None
        if headers is None:
            self._list = []
            return
        # (`type() is not dict` first: isinstance() against an ABC is slow when it fails.)
        if type(headers) is not dict and isinstance(headers, Headers):
            self._list = list(headers._list)
            if encoding is None:
                self._encoding = headers._encoding
                self._detected_encoding = headers._detected_encoding
            return
        pairs = _as_pairs(headers)
        entries = _fast_entries(pairs) if encoding is None else None
        self._list = entries if entries is not None else _checked_entries(pairs, encoding)

    @classmethod
    def _from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Build headers from trusted ``(name, value)`` byte pairs, skipping all validation.

        For protocol drivers whose parser has already checked the field syntax (h11, h2):
        names are taken as valid tokens and values as free of CR, LF, NUL and surrounding
        whitespace. Only the lower-cased names are computed.
        """
        headers = cls.__new__(cls)
        headers._list = [(name, name.lower(), value) for name, value in raw]
        headers._encoding = None
        headers._detected_encoding = None
        return headers

    @property
    def encoding(self) -> str:
        """The encoding used to decode names and values into ``str``.

        Unless given or set, it is detected from the bytes: ``"ascii"`` when everything is
        ASCII, else ``"utf-8"`` when everything decodes as UTF-8, else ``"iso-8859-1"``
        (which decodes anything). Bytes that don't fit an encoding set by hand are shown as
        U+FFFD replacement characters.
        """
        if self._encoding is not None:
            return self._encoding
        if self._detected_encoding is None:
            self._detected_encoding = self._detect_encoding()
        return self._detected_encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        _check_encoding(value)
        self._encoding = value

    def _detect_encoding(self) -> str:
        # Joining with an ASCII byte keeps a truncated UTF-8 sequence at the end of one value
        # from being completed by the start of the next one.
        blob = b"\n".join([part for name, _, value in self._list for part in (name, value)])
        if blob.isascii():
            return "ascii"
        try:
            blob.decode("utf-8")
        except UnicodeDecodeError:
            return "iso-8859-1"
        return "utf-8"

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """Every header line as ``(name, value)`` bytes, names in the case they were given."""
        return [(raw_name, value) for raw_name, _, value in self._list]

    def keys(self) -> KeysView[str]:
        """The distinct header names, lower-cased, in order of first appearance."""
        encoding = self.encoding
        return {name.decode(encoding, "replace"): None for _, name, _ in self._list}.keys()

    def values(self) -> ValuesView[str]:
        """One value per distinct name; repeated names have their values joined by ``", "``."""
        return self._joined().values()

    def items(self) -> ItemsView[str, str]:
        """``(name, value)`` per distinct name, lower-cased; repeated values joined by ``", "``."""
        return self._joined().items()

    def _joined(self) -> dict[str, str]:
        encoding = self.encoding
        joined: dict[str, str] = {}
        for _, name, value in self._list:
            key = name.decode(encoding, "replace")
            text = value.decode(encoding, "replace")
            joined[key] = f"{joined[key]}, {text}" if key in joined else text
        return joined

    def multi_items(self) -> list[tuple[str, str]]:
        """Every header line as ``(lower-cased name, value)``, repeated names included."""
        encoding = self.encoding
        return [
            (name.decode(encoding, "replace"), value.decode(encoding, "replace"))
            for _, name, value in self._list
        ]

    @overload
    def get(self, key: str | bytes) -> str | None: ...
    @overload
    def get(self, key: str | bytes, default: str | _T) -> str | _T: ...
    def get(self, key: str | bytes, default: Any = None) -> Any:
        """The value for ``key`` (repeats joined by ``", "``), or ``default`` when absent."""
        value = self._joined_value(key)
        if value is None:
            return default
        return value.decode(self.encoding, "replace")

    def get_list(self, key: str | bytes, split_commas: bool = False) -> list[str]:
        """Every value given for ``key``, in order; ``[]`` when absent.

        With ``split_commas=True`` each value is also split on commas and stripped, for
        list-valued headers such as ``Accept-Encoding`` (not for ``Set-Cookie``, whose
        ``Expires`` dates contain commas).
        """
        lower = _lookup_name(key)
        encoding = self.encoding
        values = [
            value.decode(encoding, "replace") for _, name, value in self._list if name == lower
        ]
        if not split_commas:
            return values
        return [item.strip() for value in values for item in value.split(",")]

    def update(self, headers: HeaderTypes | None = None) -> None:  # type: ignore[override]
        """Replace every name present in ``headers`` with the values given there.

        Names not mentioned keep their values; the new lines go at the end.
        """
        other = Headers(headers, self._encoding)
        if not other._list:
            return
        replaced = {name for _, name, _ in other._list}
        self._list = [entry for entry in self._list if entry[1] not in replaced]
        self._list.extend(other._list)
        self._detected_encoding = None

    def copy(self) -> Headers:
        """An independent copy with the same lines and encoding."""
        copied = Headers.__new__(Headers)
        copied._list = list(self._list)
        copied._encoding = self._encoding
        copied._detected_encoding = self._detected_encoding
        return copied

    def clear(self) -> None:
        """Remove every header."""
        self._list = []
        self._detected_encoding = None

    def __getitem__(self, key: str | bytes) -> str:
        """The value for ``key``; a repeated name gives its values joined by ``", "``."""
        value = self._joined_value(key)
        if value is None:
            raise KeyError(key)
        return value.decode(self.encoding, "replace")

    def _joined_value(self, key: str | bytes) -> bytes | None:
        lower = _lookup_name(key)
        joined = None
        for _, name, value in self._list:
            if name == lower:
                joined = value if joined is None else joined + b", " + value
        return joined

    def __setitem__(self, key: str | bytes, value: str | bytes) -> None:
        """Set ``key`` to this one value, replacing all values it had.

        The first existing line keeps its position; the name takes the case given here.
        """
        entry = _entry(key, value, self._encoding)
        lower = entry[1]
        entries = self._list
        for index, (_, name, _) in enumerate(entries):
            if name == lower:
                rest = [later for later in entries[index + 1 :] if later[1] != lower]
                self._list = [*entries[:index], entry, *rest]
                break
        else:
            entries.append(entry)
        self._detected_encoding = None

    def __delitem__(self, key: str | bytes) -> None:
        """Remove every line named ``key``; ``KeyError`` when there is none."""
        lower = _lookup_name(key)
        kept = [entry for entry in self._list if entry[1] != lower]
        if len(kept) == len(self._list):
            raise KeyError(key)
        self._list = kept
        self._detected_encoding = None

    def __contains__(self, key: object) -> bool:
        try:
            lower = _lookup_name(key)  # type: ignore[arg-type]
        except TypeError:
            return False
        # A plain loop: any() over a generator is several times slower on this hot path.
        for _, name, _ in self._list:  # noqa: SIM110
            if name == lower:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __bool__(self) -> bool:
        return bool(self._list)

    def __eq__(self, other: object) -> bool:
        """Equal when the same names have the same values.

        The order of different names doesn't matter; the order of a repeated name's values
        does (RFC 9110 section 5.3). Compares with ``Headers``, mappings and lists of pairs.
        """
        if isinstance(other, Headers):
            other_list = other._list
        elif isinstance(other, Mapping | list | tuple):
            try:
                other_list = Headers(other, self._encoding)._list
            except (TypeError, LocalProtocolError):
                return False
        else:
            return NotImplemented
        return _comparable(self._list) == _comparable(other_list)

    __hash__ = None  # type: ignore[assignment]  # mutable, like dict

    def __repr__(self) -> str:
        encoding = self.encoding
        as_list = [
            (name, "[secure]" if name in SECURE_HEADERS else value)
            for name, value in self.multi_items()
        ]
        as_dict = dict(as_list)
        suffix = "" if encoding == "ascii" else f", encoding={encoding!r}"
        shown: object = as_dict if len(as_dict) == len(as_list) else as_list
        return f"{type(self).__name__}({shown!r}{suffix})"

    def __getstate__(self) -> tuple[list[tuple[bytes, bytes, bytes]], str | None]:
        return self._list, self._encoding

    def __setstate__(self, state: tuple[list[tuple[bytes, bytes, bytes]], str | None]) -> None:
        self._list, self._encoding = state
        self._detected_encoding = None


def _comparable(entries: list[tuple[bytes, bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    # A stable sort on the name alone keeps a repeated name's values in their given order.
    return sorted([(name, value) for _, name, value in entries], key=_first)


def _first(pair: tuple[bytes, bytes]) -> bytes:
    return pair[0]


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise LookupError(
            f"Unknown encoding {encoding!r} for headers: use a Python codec name such as "
            "'ascii', 'utf-8' or 'iso-8859-1'."
        ) from None


def _as_pairs(headers: object) -> Iterable[Any]:
    """The ``(name, value)`` pairs of any accepted input, in a form that can be iterated twice."""
    if type(headers) is dict:
        return headers.items()
    if type(headers) is list or type(headers) is tuple:
        return headers
    if isinstance(headers, Mapping):
        return headers.items()
    if isinstance(headers, str | bytes) or not isinstance(headers, Iterable):
        raise TypeError(
            "Headers must be a mapping or a sequence of (name, value) pairs, "
            f"not {type(headers).__name__}."
        )
    return list(headers)


def _fast_entries(pairs: Iterable[Any]) -> list[tuple[bytes, bytes, bytes]] | None:
    """The entries for the common case, or None when `_checked_entries` must look closer.

    Fast path: every name was validated before (it is in the cache), and every value is
    ASCII text or bytes without CR, LF or NUL. Anything else, errors included, goes the slow
    way, which explains what is wrong.
    """
    entries: list[tuple[bytes, bytes, bytes]] = []
    append = entries.append
    try:
        for name, value in pairs:
            if type(name) is str:
                raw_name, lower_name = _NAME_CACHE[name]
            elif type(name) is bytes:
                raw_name, lower_name = _RAW_NAME_CACHE[name]
            else:
                return None
            if type(value) is str:
                value = value.encode("ascii")
            elif type(value) is not bytes:
                return None
            # Integer membership is a memchr: several times faster than `b"\r" in value`.
            if 13 in value or 10 in value or 0 in value:
                return None
            append((raw_name, lower_name, value.strip(OPTIONAL_WHITESPACE)))
    except (KeyError, TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return None
    return entries


def _checked_entries(
    pairs: Iterable[Any], encoding: str | None
) -> list[tuple[bytes, bytes, bytes]]:
    """The entries for `pairs`, each one validated, raising a precise error for a bad one."""
    entries: list[tuple[bytes, bytes, bytes]] = []
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise TypeError(
                f"Each header must be a (name, value) pair, but got {pair!r}. "
                "Pass a mapping or a sequence of 2-tuples."
            ) from None
        entries.append(_entry(name, value, encoding))
    return entries


def _entry(name: object, value: object, encoding: str | None) -> tuple[bytes, bytes, bytes]:
    """Validate one header and return its ``(raw name, lower-cased name, value)`` triple."""
    if type(name) is str:
        names = _NAME_CACHE.get(name)
    elif type(name) is bytes:
        names = _RAW_NAME_CACHE.get(name)
    else:
        names = None
    raw_name, lower_name = names if names is not None else _encode_name(name)

    if type(value) is bytes:
        raw_value = value
    elif type(value) is str and encoding is None and value.isascii():
        raw_value = value.encode("ascii")
    else:
        raw_value = _encode_value(raw_name, value, encoding)

    if 13 in raw_value or 10 in raw_value or 0 in raw_value:
        _refuse_forbidden(f"value of header {raw_name.decode('ascii')!r}", raw_value)
    return raw_name, lower_name, raw_value.strip(OPTIONAL_WHITESPACE)


def _encode_name(name: object) -> tuple[bytes, bytes]:
    if isinstance(name, str):
        if not name.isascii():
            raise LocalProtocolError(
                f"Invalid header name {name!r}: header names must be ASCII tokens "
                "(RFC 9110 section 5.1). Put non-ASCII text in the value instead."
            )
        raw_name = name.encode("ascii")
    elif isinstance(name, bytes):
        raw_name = bytes(name)
    else:
        raise TypeError(
            f"Header names must be str or bytes, not {type(name).__name__} ({name!r})."
        )

    if not raw_name:
        raise LocalProtocolError("Header names must not be empty.")
    if raw_name.translate(None, TCHARS):
        if 13 in raw_name or 10 in raw_name or 0 in raw_name:
            _refuse_forbidden(f"header name {name!r}", raw_name)
        raise LocalProtocolError(
            f"Invalid header name {name!r}: header names must be tokens (RFC 9110 section "
            "5.1): letters, digits and !#$%&'*+-.^_`|~ only, without spaces, colons or "
            "control characters."
        )

    pair = (raw_name, raw_name.lower())
    if type(name) is str and len(_NAME_CACHE) < _NAME_CACHE_SIZE:
        _NAME_CACHE[name] = pair
    elif type(name) is bytes and len(_RAW_NAME_CACHE) < _NAME_CACHE_SIZE:
        _RAW_NAME_CACHE[name] = pair
    return pair


def _encode_value(raw_name: bytes, value: object, encoding: str | None) -> bytes:
    """The slow path of `_entry`: non-ASCII text, str and bytes subclasses, and mistakes."""
    name = raw_name.decode("ascii")
    if isinstance(value, str):
        try:
            return value.encode(encoding or "ascii")
        except UnicodeEncodeError as exc:
            error = exc
        if encoding is None:
            # RFC 9110 leaves non-ASCII bytes in values opaque; UTF-8 is what servers expect
            # today, and `encoding` detection reads it back.
            try:
                return value.encode("utf-8")
            except UnicodeEncodeError as exc:
                error = exc
        raise LocalProtocolError(
            f"The value of header {name!r} cannot be encoded as {error.encoding} "
            f"({error.reason} at position {error.start}). Pass the value as bytes, or choose "
            "an encoding that can represent it."
        )
    if isinstance(value, bytes):
        return bytes(value)
    if value is None:
        raise TypeError(
            f"Header {name!r} has the value None: pass a str or bytes. To send no such "
            "header, leave it out (or `del headers[name]`)."
        )
    raise TypeError(
        f"Header {name!r} has a value of type {type(value).__name__} ({value!r}): pass a "
        f"str or bytes, e.g. str({value!r})."
    )


def _refuse_forbidden(what: str, data: bytes) -> None:
    found = next(label for char, label in FORBIDDEN_CHARS.items() if char in data)
    raise LocalProtocolError(
        f"The {what} contains {found}. CR, LF and NUL are refused in header names and values "
        "because they could end the header line and inject other headers or a body "
        "(header injection). Remove them or encode the value first."
    )


def _lookup_name(key: str | bytes) -> bytes:
    """The lower-cased bytes to compare a lookup key with."""
    if type(key) is str:
        lower = _LOOKUP_CACHE.get(key)
        if lower is None:
            lower = _fold_name(key)
            if len(_LOOKUP_CACHE) < _NAME_CACHE_SIZE:
                _LOOKUP_CACHE[key] = lower
        return lower
    if isinstance(key, str):
        return _fold_name(key)
    if isinstance(key, bytes):
        return key.lower()
    raise TypeError(f"Header names must be str or bytes, not {type(key).__name__}.")


def _fold_name(key: str) -> bytes:
    # Lower-case after encoding, so that only ASCII letters fold ("\u212a", KELVIN SIGN, must
    # not find "k"). Stored names are ASCII, so a non-ASCII key matches nothing.
    return key.encode("ascii").lower() if key.isascii() else _NO_NAME
