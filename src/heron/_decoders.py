"""Incremental decoders for response bodies: content codings, text, re-chunking and lines.

Everything here is pure (no I/O) and incremental: bytes go in as they arrive from the network,
decoded output comes out, and ``flush()`` is called once at the end of the body. Content
decoders also have ``decode_iter()``, which yields output in pieces of about
``DECODED_PIECE_SIZE`` bytes, so that a small compressed body that inflates to gigabytes (a
"zip bomb") is never held in memory at once: the response's ``iter_bytes()`` is built on it.
"""

from __future__ import annotations

import codecs
import functools
import importlib
import sys
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, AnyStr, Generic

from ._exceptions import DecodingError

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from zlib import _Decompress

__all__ = [
    "DECODED_PIECE_SIZE",
    "SUPPORTED_DECODERS",
    "BrotliDecoder",
    "ByteChunker",
    "ContentDecoder",
    "DeflateDecoder",
    "GZipDecoder",
    "IdentityDecoder",
    "LineDecoder",
    "MultiDecoder",
    "TextChunker",
    "TextDecoder",
    "ZStandardDecoder",
    "get_content_decoder",
]

# The most output one step of a content decoder produces (Brotli may exceed it by about half,
# see BrotliDecoder).
DECODED_PIECE_SIZE = 64 * 1024

# zlib hands back the input it has not consumed yet as a new bytes object (``unconsumed_tail``)
# each time the output limit is hit. Feeding input in slices keeps that copy small when a
# highly compressed chunk takes many steps to drain.
_ZLIB_INPUT_SLICE = 16 * 1024

# The ``zstandard`` package cannot limit the output of one call. A zstd block of 4 bytes can
# expand to 128 KiB (an RLE block), so a 512-byte slice of input produces at most ~16 MiB
# (~32 MiB at the peak: zstandard joins a list of buffers). Smaller slices cost throughput on
# ordinary bodies (~20% at 256 bytes); Python 3.14's compression.zstd has no such limit.
_ZSTANDARD_INPUT_SLICE = 512

# The standard library's compression.zstd (Python 3.14) can cap each call's output; slicing
# its input only bounds the copy of the data left over at the end of a frame.
_ZSTD_INPUT_SLICE = 64 * 1024

# RFC 9659: the zstd content coding never needs a window larger than 8 MiB, and decoders need
# not accept more. Capping it bounds the decoder's own memory too (the window is allocated).
_ZSTD_WINDOW_LOG_MAX = 23
# Frames over that limit fail with a vague "requires too much memory" from zstd.
_ZSTD_HINT = " (or a frame that needs a window over 8 MiB, which RFC 9659 lets heron refuse)"

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_GZIP_MAGIC = b"\x1f\x8b"

# Python 3.14 ships zstd in the standard library; older Pythons need the zstandard package.
_HAS_STDLIB_ZSTD = sys.version_info >= (3, 14)


def _corrupt(label: str, exc: Exception, hint: str = "") -> DecodingError:
    return DecodingError(
        f"Failed to decode the {label}-encoded response body: {exc}. The server sent data that "
        f"is not valid {label} although its Content-Encoding header says it is{hint}."
    )


def _truncated(label: str) -> DecodingError:
    return DecodingError(
        f"The {label} stream ended before its end marker: the body is truncated. The "
        "connection may have been cut short; retrying the request may help."
    )


class ContentDecoder:
    """The interface of a content-coding decoder (``Content-Encoding``).

    Feed each chunk of the body to ``decode_iter()`` (or ``decode()``) in order, then call
    ``flush()`` once at the end, which raises ``DecodingError`` if the body stopped short.

    * ``decode_iter(data)`` yields the output decoded from ``data`` in non-empty pieces of at
      most about ``DECODED_PIECE_SIZE`` bytes, so memory stays bounded however much the data
      expands. Consume each iterator fully before feeding the next chunk.
    * ``decode(data)`` returns the same output joined into one ``bytes``.
    * ``flush()`` returns any output still held back (always ``b""`` for the decoders here,
      which drain everything in ``decode_iter``) after checking the stream ended properly.
    """

    __slots__ = ()

    def decode_iter(self, data: bytes) -> Iterator[bytes]:
        """Yield what ``data`` decodes to, in pieces of about ``DECODED_PIECE_SIZE`` bytes."""
        raise NotImplementedError

    def decode(self, data: bytes) -> bytes:
        """Return what ``data`` decodes to (all of it, in memory)."""
        return b"".join(self.decode_iter(data))

    def flush(self) -> bytes:
        """End the body: return any remaining output; raise ``DecodingError`` if truncated."""
        raise NotImplementedError


class IdentityDecoder(ContentDecoder):
    """The decoder for bodies without a content coding: bytes pass through unchanged."""

    __slots__ = ()

    def decode_iter(self, data: bytes) -> Iterator[bytes]:
        # Not split into pieces: the data is already in memory, nothing expands here.
        if data:
            yield data

    def decode(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def _inflate(decompressor: _Decompress, data: bytes, label: str) -> Generator[bytes, None, bytes]:
    """Yield what ``data`` inflates to through a zlib ``decompressor``, in bounded pieces.

    Returns the input that follows the end of the compressed stream (``b""`` if it has not
    ended yet): the start of another gzip member, or trailing junk.
    """
    view = memoryview(data)
    for start in range(0, len(view), _ZLIB_INPUT_SLICE):
        end = start + _ZLIB_INPUT_SLICE
        chunk: bytes | memoryview = view[start:end]
        while True:
            try:
                out = decompressor.decompress(chunk, DECODED_PIECE_SIZE)
            except zlib.error as exc:
                raise _corrupt(label, exc) from exc
            if out:
                yield out
            if decompressor.eof:
                return decompressor.unused_data + view[end:]
            chunk = decompressor.unconsumed_tail
            # A full output piece may leave more output inside zlib even with no input left.
            if not chunk and len(out) < DECODED_PIECE_SIZE:
                break
    return b""


class GZipDecoder(ContentDecoder):
    """Decodes ``Content-Encoding: gzip`` (RFC 1952), including bodies of several members.

    Bytes after a member that do not start another member (zero padding, junk that some
    servers append) are ignored, as gzip's own tools and httpx do.
    """

    __slots__ = ("_decompressor", "_ignore_rest", "_pending", "_seen_member")

    def __init__(self) -> None:
        self._decompressor: _Decompress | None = None
        self._seen_member = False
        self._pending = b""  # Between members: a lone first byte of what may be a header.
        self._ignore_rest = False

    def decode_iter(self, data: bytes) -> Iterator[bytes]:
        while data and not self._ignore_rest:
            decompressor = self._decompressor
            if decompressor is None:
                if self._seen_member:
                    # Between members: only a gzip header starts another one.
                    data = self._pending + data
                    self._pending = b""
                    if not _GZIP_MAGIC.startswith(data[:2]):
                        self._ignore_rest = True
                        return
                    if len(data) < 2:
                        self._pending = data
                        return
                decompressor = self._decompressor = zlib.decompressobj(_GZIP_WBITS)
                self._seen_member = True
            data = yield from _inflate(decompressor, data, "gzip")
            if decompressor.eof:
                self._decompressor = None

    def flush(self) -> bytes:
        if self._decompressor is not None:
            raise _truncated("gzip")
        return b""


def _is_zlib_header(data: bytes) -> bool:
    # RFC 1950: CM = 8 (deflate), a window of at most 32 KiB, and a check value making the
    # first two bytes a multiple of 31. Raw deflate data cannot start this way in practice: it
    # would be a stored block with non-zero padding bits.
    cmf, flg = data[0], data[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0


class DeflateDecoder(ContentDecoder):
    """Decodes ``Content-Encoding: deflate``: zlib-wrapped (RFC 1950) or, as some servers send
    it, raw deflate (RFC 1951). The first two bytes of the body tell which.

    Bytes after the end of the stream are ignored, as httpx does.
    """

    __slots__ = ("_decompressor", "_pending")

    def __init__(self) -> None:
        self._decompressor: _Decompress | None = None
        self._pending = b""  # A lone first byte, until the second one says which format.

    def decode_iter(self, data: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        if decompressor is None:
            data = self._pending + data
            if len(data) < 2:
                self._pending = data
                return
            self._pending = b""
            wbits = zlib.MAX_WBITS if _is_zlib_header(data) else -zlib.MAX_WBITS
            decompressor = self._decompressor = zlib.decompressobj(wbits)
        if not decompressor.eof:
            yield from _inflate(decompressor, data, "deflate")

    def flush(self) -> bytes:
        decompressor = self._decompressor
        if self._pending or (decompressor is not None and not decompressor.eof):
            raise _truncated("deflate")
        return b""


@functools.cache
def _find_brotli() -> ModuleType | str:
    """The Brotli module to use, or why there is none (cached: imported once, on first use)."""
    too_old = ""
    for name in ("brotli", "brotlicffi"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        # Before 1.2 neither package can cap the output of one call, so a tiny body could
        # expand without limit in memory (fixed in 1.2). Such versions count as missing.
        if hasattr(module.Decompressor, "can_accept_more_data"):
            return module
        too_old = too_old or f"{name} {getattr(module, '__version__', '(unknown version)')}"
    if too_old:
        return (
            "Decoding Brotli ('br') response bodies needs brotli >= 1.2 (or brotlicffi >= 1.2), "
            f"which can decode in bounded memory, but {too_old} is installed. Upgrade it with: "
            "pip install --upgrade heron[brotli]"
        )
    return (
        "Decoding Brotli ('br') response bodies needs the brotli package (brotlicffi on PyPy), "
        "which is not installed. Install it with: pip install heron[brotli]"
    )


@functools.cache
def _find_zstd() -> ModuleType | str:
    """The zstd module to use, or why there is none (cached: imported once, on first use)."""
    names = ("compression.zstd", "zstandard") if _HAS_STDLIB_ZSTD else ("zstandard",)
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return (
        "Decoding Zstandard ('zstd') response bodies needs the zstandard package (or Python "
        "3.14+), which is not installed. Install it with: pip install heron[zstd]"
    )


def _load(find: Callable[[], ModuleType | str]) -> ModuleType:
    found = find()
    if isinstance(found, str):
        raise ImportError(found)
    return found


class BrotliDecoder(ContentDecoder):
    """Decodes ``Content-Encoding: br`` (RFC 7932) with the ``brotli`` or ``brotlicffi`` package.

    Both are optional: ``pip install heron[brotli]``. Constructing the decoder without one of
    them (at version 1.2 or later) raises ``ImportError`` with that command.
    Pieces from ``decode_iter`` can reach about 1.5 x ``DECODED_PIECE_SIZE``: brotli grows its
    output buffer in steps and stops only once the limit is passed.
    """

    __slots__ = ("_decompressor", "_error", "_started")

    def __init__(self) -> None:
        module = _load(_find_brotli)
        self._decompressor: Any = module.Decompressor()
        self._error: type[Exception] = module.error
        self._started = False

    def decode_iter(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._started = True
        decompressor = self._decompressor
        try:
            out = decompressor.process(data, output_buffer_limit=DECODED_PIECE_SIZE)
            # Keep draining with empty input: output can remain inside the decoder even once
            # it is ready for more input, and it must take none until it is.
            while out or not decompressor.can_accept_more_data():
                if out:
                    yield out
                out = decompressor.process(b"", output_buffer_limit=DECODED_PIECE_SIZE)
        except self._error as exc:
            raise _corrupt("Brotli", exc) from exc

    def flush(self) -> bytes:
        if self._started and not self._decompressor.is_finished():
            raise _truncated("Brotli")
        return b""


class ZStandardDecoder(ContentDecoder):
    """Decodes ``Content-Encoding: zstd`` (RFC 8878), including bodies of several frames.

    Uses the standard library's ``compression.zstd`` on Python 3.14+, else the optional
    ``zstandard`` package (``pip install heron[zstd]``); constructing the decoder without
    either raises ``ImportError`` with that command. Frames that need a window over 8 MiB are
    refused, as RFC 9659 allows.
    """

    __slots__ = ("_decode", "_error", "_frame", "_new_frame")

    def __init__(self) -> None:
        module = _load(_find_zstd)
        self._error: type[Exception] = module.ZstdError
        self._frame: Any = None  # The decompressor of the frame in progress, if any.
        self._new_frame: Callable[[], Any]
        self._decode: Callable[[bytes], Iterator[bytes]]
        if module.__name__ == "zstandard":
            context = module.ZstdDecompressor(max_window_size=1 << _ZSTD_WINDOW_LOG_MAX)
            self._new_frame = context.decompressobj
            self._decode = self._decode_zstandard
        else:
            options = {module.DecompressionParameter.window_log_max: _ZSTD_WINDOW_LOG_MAX}
            self._new_frame = functools.partial(module.ZstdDecompressor, options=options)
            self._decode = self._decode_stdlib

    def decode_iter(self, data: bytes) -> Iterator[bytes]:
        return self._decode(data)

    def _decode_stdlib(self, data: bytes) -> Iterator[bytes]:
        # compression.zstd works like bz2 and lzma: decompress(data, max_length), needs_input,
        # and one decompressor per frame (its unused_data is where the next frame begins).
        view = memoryview(data)
        for start in range(0, len(view), _ZSTD_INPUT_SLICE):
            chunk: bytes | memoryview = view[start : start + _ZSTD_INPUT_SLICE]
            while True:
                frame = self._frame
                if frame is None:
                    frame = self._frame = self._new_frame()
                try:
                    out = frame.decompress(chunk, DECODED_PIECE_SIZE)
                except self._error as exc:
                    raise _corrupt("zstd", exc, _ZSTD_HINT) from exc
                if out:
                    yield out
                if frame.eof:
                    self._frame = None
                    chunk = frame.unused_data
                    if not chunk:
                        break
                elif frame.needs_input:
                    break
                else:
                    chunk = b""

    def _decode_zstandard(self, data: bytes) -> Iterator[bytes]:
        # zstandard's decompressobj returns everything a call's input decodes to, so input
        # goes in small slices and the output is regrouped into pieces of DECODED_PIECE_SIZE.
        parts: list[bytes] = []
        size = 0
        view = memoryview(data)
        for start in range(0, len(view), _ZSTANDARD_INPUT_SLICE):
            chunk: bytes | memoryview = view[start : start + _ZSTANDARD_INPUT_SLICE]
            while chunk:
                frame = self._frame
                if frame is None:
                    frame = self._frame = self._new_frame()
                try:
                    out = frame.decompress(chunk)
                except self._error as exc:
                    raise _corrupt("zstd", exc, _ZSTD_HINT) from exc
                chunk = b""
                if frame.eof:
                    self._frame = None
                    chunk = frame.unused_data  # The start of the next frame, if any.
                if not out:
                    continue
                if size + len(out) < DECODED_PIECE_SIZE:
                    parts.append(out)
                    size += len(out)
                    continue
                # Complete the held-back piece from the head of out, then slice out itself:
                # joining everything first would copy a large output once more.
                offset = 0
                if parts:
                    offset = DECODED_PIECE_SIZE - size
                    parts.append(out[:offset])
                    yield b"".join(parts)
                end = len(out) - (len(out) - offset) % DECODED_PIECE_SIZE
                for start_of_piece in range(offset, end, DECODED_PIECE_SIZE):
                    yield out[start_of_piece : start_of_piece + DECODED_PIECE_SIZE]
                parts = [out[end:]] if end < len(out) else []
                size = len(out) - end
        if parts:
            yield b"".join(parts)

    def flush(self) -> bytes:
        if self._frame is not None:
            raise _truncated("zstd")
        return b""


class MultiDecoder(ContentDecoder):
    """Decodes a chain of content codings, e.g. ``Content-Encoding: gzip, br``.

    ``children`` are in the order the codings were applied (the header's order); decoding
    runs them in reverse. The stages are chained lazily, so memory stays bounded throughout.
    """

    __slots__ = ("_children",)

    def __init__(self, children: list[ContentDecoder]) -> None:
        self._children = list(reversed(children))

    def decode_iter(self, data: bytes) -> Iterator[bytes]:
        pieces: Iterator[bytes] = iter((data,))
        for child in self._children:
            pieces = _through(child, pieces)
        return pieces

    def flush(self) -> bytes:
        # What one stage still holds goes through the stages after it before they flush.
        output: list[bytes] = []
        for index, child in enumerate(self._children):
            pieces: Iterator[bytes] = iter((child.flush(),))
            for later in self._children[index + 1 :]:
                pieces = _through(later, pieces)
            output.extend(pieces)
        return b"".join(output)


def _through(decoder: ContentDecoder, pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from decoder.decode_iter(piece)


class _SupportedDecoders(Mapping[str, type[ContentDecoder]]):
    """Content coding name -> decoder class, for the codings heron can decode here and now.

    "br" and "zstd" are listed only when their optional package imports (and is recent
    enough). The check imports those packages, so it runs on first use, not at import time.
    """

    __slots__ = ("_table",)

    def __init__(self) -> None:
        self._table: dict[str, type[ContentDecoder]] | None = None

    def _resolve(self) -> dict[str, type[ContentDecoder]]:
        table = self._table
        if table is None:
            table = {"identity": IdentityDecoder, "gzip": GZipDecoder, "deflate": DeflateDecoder}
            if not isinstance(_find_brotli(), str):
                table["br"] = BrotliDecoder
            if not isinstance(_find_zstd(), str):
                table["zstd"] = ZStandardDecoder
            self._table = table
        return table

    def __getitem__(self, name: str) -> type[ContentDecoder]:
        return self._resolve()[name]

    def __contains__(self, name: object) -> bool:
        return name in self._resolve()

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolve())

    def __len__(self) -> int:
        return len(self._resolve())

    def __repr__(self) -> str:
        return repr(self._resolve())


SUPPORTED_DECODERS: Mapping[str, type[ContentDecoder]] = _SupportedDecoders()

# RFC 9110 section 8.4.1.3: recipients should treat "x-gzip" as "gzip".
_ALIASES = {"x-gzip": "gzip"}


def get_content_decoder(content_encodings: list[str]) -> ContentDecoder:
    """The decoder for a response's ``Content-Encoding`` header values.

    Each value may list several codings (``"gzip, br"``), in the order they were applied.
    Names are case-insensitive; ``identity`` and codings heron cannot decode are skipped, so
    such a body is passed through as it is (as httpx does)::

        >>> import gzip
        >>> get_content_decoder(["gzip"]).decode(gzip.compress(b"hi"))
        b'hi'
    """
    decoders: list[ContentDecoder] = []
    for value in content_encodings:
        for token in value.split(","):
            name = token.strip().lower()
            name = _ALIASES.get(name, name)
            if name != "identity" and name in SUPPORTED_DECODERS:
                decoders.append(SUPPORTED_DECODERS[name]())
    if not decoders:
        return IdentityDecoder()
    if len(decoders) == 1:
        return decoders[0]
    return MultiDecoder(decoders)


class _Chunker(Generic[AnyStr]):
    __slots__ = ("_chunk_size", "_parts", "_size")

    _unit = "items"

    def __init__(self, chunk_size: int | None = None) -> None:
        if chunk_size is not None:
            if not isinstance(chunk_size, int):
                raise TypeError(
                    f"chunk_size must be an int or None, not {type(chunk_size).__name__}."
                )
            if chunk_size < 1:
                raise ValueError(
                    f"chunk_size must be a positive number of {self._unit}, or None to keep "
                    f"the chunks as they arrive; got {chunk_size}."
                )
        self._chunk_size = chunk_size
        self._parts: list[AnyStr] = []
        self._size = 0

    def decode(self, data: AnyStr) -> list[AnyStr]:
        """Return the whole chunks now available (never empty ones)."""
        chunk_size = self._chunk_size
        if not data:
            return []
        if chunk_size is None:
            return [data]
        # Fast path: nothing held back and the data is exactly one chunk.
        if not self._parts and len(data) == chunk_size:
            return [data]
        self._parts.append(data)
        self._size += len(data)
        if self._size < chunk_size:
            return []
        joined = data[:0].join(self._parts)
        end = self._size - self._size % chunk_size
        chunks = [joined[start : start + chunk_size] for start in range(0, end, chunk_size)]
        rest = joined[end:]
        self._parts = [rest] if rest else []
        self._size = len(rest)
        return chunks

    def flush(self) -> list[AnyStr]:
        """Return what is held back (a last, shorter chunk), if anything."""
        parts = self._parts
        if not parts:
            return []
        self._parts = []
        self._size = 0
        return [parts[0][:0].join(parts)]


class ByteChunker(_Chunker[bytes]):
    """Regroups byte chunks into chunks of exactly ``chunk_size`` bytes (the last may be
    shorter); with ``chunk_size=None`` chunks pass through as they come. Never yields b""::

        >>> chunker = ByteChunker(3)
        >>> chunker.decode(b"abcd"), chunker.decode(b"e"), chunker.flush()
        ([b'abc'], [], [b'de'])
    """

    __slots__ = ()

    _unit = "bytes"


class TextChunker(_Chunker[str]):
    """Regroups text into chunks of exactly ``chunk_size`` characters (the last may be
    shorter); with ``chunk_size=None`` text passes through as it comes. Never yields ""."""

    __slots__ = ()

    _unit = "characters"


# The codecs whose incremental decoders insist on a byte order mark (bytes.decode does not),
# mapped to what a body without one is read as: little-endian, as browsers do (WHATWG
# Encoding maps the "utf-16" label to UTF-16LE) and as bytes.decode does on common machines.
_BOM_OPTIONAL = {"utf-16": "utf-16-le", "utf-32": "utf-32-le"}


class TextDecoder:
    """Decodes bytes to text incrementally: a character split across chunks comes out whole.

    Undecodable bytes become U+FFFD (``errors="replace"``). ``decode`` and ``flush`` return a
    list holding the text, or an empty list when there is none yet::

        >>> decoder = TextDecoder("utf-8")
        >>> decoder.decode(b"caf\\xc3"), decoder.decode(b"\\xa9"), decoder.flush()
        (['caf'], ['é'], [])

    Raises ``LookupError`` for an unknown or non-text encoding, and ``DecodingError`` if the
    codec fails anyway (a few, such as "idna", cannot replace errors).
    """

    __slots__ = ("_decoder", "_encoding")

    def __init__(self, encoding: str = "utf-8") -> None:
        info = codecs.lookup(encoding)
        # Bytes-to-bytes codecs ("hex", "zlib"...) are found by lookup() but decode to bytes.
        if not getattr(info, "_is_text_encoding", True) or info.incrementaldecoder is None:
            raise LookupError(
                f"{encoding!r} is not a text encoding that can decode incrementally; use a "
                "codec that decodes bytes to str, such as 'utf-8'."
            )
        self._encoding = info.name
        self._decoder = info.incrementaldecoder(errors="replace")

    def decode(self, data: bytes) -> list[str]:
        """Return the text ``data`` completes (a trailing partial character is held back)."""
        try:
            text: str = self._decoder.decode(data)
        except UnicodeError as exc:
            text = self._recover(data, False, exc)
        return [text] if text else []

    def flush(self) -> list[str]:
        """Return the rest of the text; a dangling partial character becomes U+FFFD."""
        try:
            text: str = self._decoder.decode(b"", True)
        except UnicodeError as exc:
            text = self._recover(b"", True, exc)
        return [text] if text else []

    def _recover(self, data: bytes, final: bool, exc: UnicodeError) -> str:
        fallback = _BOM_OPTIONAL.get(self._encoding)
        if fallback is None:
            raise DecodingError(
                f"Failed to decode the response body as {self._encoding}: {exc}. Set "
                "response.encoding to a codec that suits the body, such as 'utf-8'."
            ) from exc
        # No byte order mark: start again in the fallback byte order with what the failed
        # decoder was holding plus this data. Only the first bytes can fail this way.
        held: bytes = self._decoder.getstate()[0]
        self._encoding = fallback
        self._decoder = codecs.getincrementaldecoder(fallback)(errors="replace")
        text: str = self._decoder.decode(held + data, final)
        return text


class LineDecoder:
    """Splits text into lines incrementally, on ``\\n``, ``\\r\\n`` and ``\\r``.

    Lines come without their line break, and ``\\r\\n`` is one break even when the chunks split
    it. ``decode`` returns the lines the text completes; ``flush`` returns the last, unfinished
    line, if any::

        >>> decoder = LineDecoder()
        >>> decoder.decode("one\\r"), decoder.decode("\\ntw"), decoder.decode("o"), decoder.flush()
        (['one'], [], [], ['two'])
    """

    __slots__ = ("_parts", "_trailing_cr")

    def __init__(self) -> None:
        # The unfinished line, as the pieces received: joined once, when the line ends, so a
        # long body without line breaks costs linear time, never quadratic.
        self._parts: list[str] = []
        self._trailing_cr = False  # The last text ended in "\r": a "\n" next completes it.

    def decode(self, text: str) -> list[str]:
        """Return the lines ``text`` completes."""
        if self._trailing_cr and text:
            self._trailing_cr = False
            if text[0] == "\n":
                text = text[1:]
        if not text:
            return []
        if "\r" in text:
            self._trailing_cr = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        last = lines.pop()
        if not lines:
            self._parts.append(last)
            return []
        if self._parts:
            self._parts.append(lines[0])
            lines[0] = "".join(self._parts)
            self._parts = []
        if last:
            self._parts.append(last)
        return lines

    def flush(self) -> list[str]:
        """Return the unfinished last line (text after the last line break), if any."""
        self._trailing_cr = False
        parts = self._parts
        if not parts:
            return []
        self._parts = []
        return ["".join(parts)]
