from __future__ import annotations

import codecs
import gzip
import importlib
import lzma
import resource
import struct
import sys
import tracemalloc
import types
import zlib
from collections.abc import Callable, Iterator
from typing import ClassVar

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

import heron
from heron import _decoders
from heron._decoders import (
    DECODED_PIECE_SIZE,
    SUPPORTED_DECODERS,
    BrotliDecoder,
    ByteChunker,
    ContentDecoder,
    DeflateDecoder,
    GZipDecoder,
    IdentityDecoder,
    LineDecoder,
    MultiDecoder,
    TextChunker,
    TextDecoder,
    ZStandardDecoder,
    get_content_decoder,
)

# -- helpers -------------------------------------------------------------------------------


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def zstd_streamed(data: bytes, window_log: int = 20) -> bytes:
    # A frame written without knowing the size up front: the header carries the window size.
    params = zstandard.ZstdCompressionParameters(window_log=window_log, write_content_size=False)
    compressor = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return compressor.compress(data) + compressor.flush()


# name -> (decoder factory, compress function)
CODINGS: dict[str, tuple[Callable[[], ContentDecoder], Callable[[bytes], bytes]]] = {
    "identity": (IdentityDecoder, lambda data: data),
    "gzip": (GZipDecoder, gzip.compress),
    "deflate-zlib": (DeflateDecoder, zlib.compress),
    "deflate-raw": (DeflateDecoder, raw_deflate),
    "br": (BrotliDecoder, lambda data: brotli.compress(data, quality=5)),
    "zstd": (ZStandardDecoder, zstd),
    "gzip,br": (
        lambda: MultiDecoder([GZipDecoder(), BrotliDecoder()]),
        lambda data: brotli.compress(gzip.compress(data), quality=5),
    ),
    "deflate,zstd,gzip": (
        lambda: MultiDecoder([DeflateDecoder(), ZStandardDecoder(), GZipDecoder()]),
        lambda data: gzip.compress(zstd(zlib.compress(data))),
    ),
}
COMPRESSED = [name for name in CODINGS if name != "identity"]

TEXT = b"The quick brown fox jumps over the lazy dog. " * 200


def decode_in_chunks(decoder: ContentDecoder, data: bytes, size: int) -> bytes:
    pieces = [decoder.decode(data[start : start + size]) for start in range(0, len(data), size)]
    return b"".join(pieces) + decoder.flush()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[start:end] for start, end in zip([0, *points], [*points, len(data)], strict=True)]


@pytest.fixture
def fresh_backends() -> Iterator[None]:
    """Forget which optional compression modules were found, before and after the test."""
    _decoders._find_brotli.cache_clear()
    _decoders._find_zstd.cache_clear()
    yield
    _decoders._find_brotli.cache_clear()
    _decoders._find_zstd.cache_clear()


# -- every content decoder -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CODINGS))
def test_decoder_restores_the_original_bytes(name: str) -> None:
    make, compress = CODINGS[name]
    encoded = compress(TEXT)
    assert b"".join(make().decode_iter(encoded)) == TEXT
    decoder = make()
    assert decoder.decode(encoded) + decoder.flush() == TEXT


@pytest.mark.parametrize("name", list(CODINGS))
def test_decoder_fed_one_byte_at_a_time_gives_the_same_output(name: str) -> None:
    make, compress = CODINGS[name]
    assert decode_in_chunks(make(), compress(TEXT), 1) == TEXT


@pytest.mark.parametrize("name", list(CODINGS))
def test_decoder_of_an_empty_body_gives_nothing_and_does_not_raise(name: str) -> None:
    make, _ = CODINGS[name]
    decoder = make()
    assert decoder.decode(b"") == b""
    assert list(decoder.decode_iter(b"")) == []
    assert decoder.flush() == b""


@pytest.mark.parametrize("name", list(CODINGS))
def test_decode_iter_never_yields_empty_pieces(name: str) -> None:
    make, compress = CODINGS[name]
    decoder = make()
    encoded = compress(TEXT)
    for start in range(len(encoded)):
        assert all(decoder.decode_iter(encoded[start : start + 1]))


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("gzip", "gzip"),
        ("deflate-zlib", "deflate"),
        ("br", "Brotli"),
        ("zstd", "zstd"),
        ("gzip,br", "Brotli"),  # The last coding applied is undone first.
        ("deflate,zstd,gzip", "gzip"),
    ],
)
def test_corrupt_input_raises_decoding_error_naming_the_encoding(name: str, label: str) -> None:
    make, _ = CODINGS[name]
    with pytest.raises(heron.DecodingError, match=f"Failed to decode the {label}-encoded"):
        make().decode(b"\xff\xfe this is not compressed data at all \xff" * 10)


@pytest.mark.parametrize("name", COMPRESSED)
def test_truncated_input_raises_decoding_error_on_flush(name: str) -> None:
    make, compress = CODINGS[name]
    encoded = compress(TEXT)
    decoder = make()
    decoder.decode(encoded[: len(encoded) - 4])
    with pytest.raises(
        heron.DecodingError, match="ended before its end marker: the body is trunc"
    ):
        decoder.flush()


@pytest.mark.parametrize("name", COMPRESSED)
def test_input_cut_after_the_first_byte_is_truncated(name: str) -> None:
    make, compress = CODINGS[name]
    decoder = make()
    assert decoder.decode(compress(TEXT)[:1]) == b""
    with pytest.raises(heron.DecodingError, match="truncated"):
        decoder.flush()


@pytest.mark.parametrize("name", list(CODINGS))
@settings(max_examples=30, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=3000), st.binary(max_size=20).map(lambda b: b * 500)),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)
def test_decoder_output_does_not_depend_on_chunk_boundaries(
    name: str, data: bytes, cuts: list[int]
) -> None:
    make, compress = CODINGS[name]
    decoder = make()
    pieces = [
        piece for chunk in split(compress(data), cuts) for piece in decoder.decode_iter(chunk)
    ]
    assert b"".join(pieces) + decoder.flush() == data
    assert all(pieces)


# -- gzip ----------------------------------------------------------------------------------


def test_gzip_body_of_several_members_is_decoded_whole() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"second ") + gzip.compress(b"third")
    assert GZipDecoder().decode(body) == b"first second third"
    assert decode_in_chunks(GZipDecoder(), body, 1) == b"first second third"


def test_gzip_members_split_at_the_magic_number_are_joined() -> None:
    first, second = gzip.compress(b"one"), gzip.compress(b"two")
    decoder = GZipDecoder()
    assert decoder.decode(first + second[:1]) == b"one"
    assert decoder.decode(second[1:]) == b"two"
    assert decoder.flush() == b""


@pytest.mark.parametrize(
    "trailer",
    [b"\x00\x00\x00\x00", b"garbage after the end", b"\x1f", b"\x1f\x00more", b"\n"],
    ids=["zero-padding", "junk", "lone-first-magic-byte", "half-magic", "newline"],
)
def test_gzip_data_after_the_last_member_is_ignored(trailer: bytes) -> None:
    decoder = GZipDecoder()
    assert decoder.decode(gzip.compress(TEXT) + trailer) == TEXT
    assert decoder.decode(b"still more junk") == b""
    assert decoder.flush() == b""


def test_gzip_junk_after_a_member_fed_separately_is_ignored() -> None:
    decoder = GZipDecoder()
    assert decoder.decode(gzip.compress(b"body")) == b"body"
    assert decoder.decode(b"\x1f") == b""
    assert decoder.decode(b"?") == b""
    assert decoder.flush() == b""


def test_gzip_second_member_cut_short_is_truncated() -> None:
    decoder = GZipDecoder()
    decoder.decode(gzip.compress(b"one") + gzip.compress(b"two")[:12])
    with pytest.raises(heron.DecodingError, match="The gzip stream ended before its end marker"):
        decoder.flush()


def test_gzip_body_that_is_not_gzip_explains_the_header_mismatch() -> None:
    with pytest.raises(heron.DecodingError) as info:
        GZipDecoder().decode(b"<html>plain text</html>")
    message = str(info.value)
    assert "incorrect header check" in message
    assert "not valid gzip although its Content-Encoding header says it is" in message
    assert isinstance(info.value.__cause__, zlib.error)


def test_gzip_crc_mismatch_is_corrupt() -> None:
    body = bytearray(gzip.compress(TEXT))
    body[-8] ^= 0xFF  # The CRC-32 in the trailer.
    with pytest.raises(heron.DecodingError, match="incorrect data check"):
        GZipDecoder().decode(bytes(body))


# -- deflate -------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [zlib.compress, raw_deflate], ids=["zlib", "raw"])
def test_deflate_first_byte_alone_waits_for_the_second(compress: Callable[[bytes], bytes]) -> None:
    encoded = compress(TEXT)
    decoder = DeflateDecoder()
    assert decoder.decode(encoded[:1]) == b""
    assert decoder.decode(encoded[1:]) == TEXT
    assert decoder.flush() == b""


@pytest.mark.parametrize("compress", [zlib.compress, raw_deflate], ids=["zlib", "raw"])
def test_deflate_data_after_the_end_is_ignored(compress: Callable[[bytes], bytes]) -> None:
    decoder = DeflateDecoder()
    assert decoder.decode(compress(TEXT) + b"junk") == TEXT
    assert decoder.decode(b"more junk") == b""
    assert decoder.flush() == b""


@pytest.mark.parametrize(
    ("header", "is_zlib"),
    [
        (b"\x78\x9c", True),  # The default window and level.
        (b"\x78\x01", True),
        (b"\x78\xda", True),
        (b"\x08\x1d", True),  # The smallest window.
        (b"\x88\x98", False),  # CINFO 8: a window larger than deflate allows.
        (b"\x79\x9c", False),  # CM 9 is not deflate.
        (b"\x78\x9d", False),  # The check bits don't add up.
        (b"\xcb\x48", False),  # Raw deflate of b"hello".
    ],
)
def test_deflate_tells_a_zlib_header_from_raw_deflate(header: bytes, is_zlib: bool) -> None:
    assert _decoders._is_zlib_header(header) is is_zlib


def test_deflate_of_one_lone_byte_is_truncated() -> None:
    decoder = DeflateDecoder()
    decoder.decode(b"\x78")
    with pytest.raises(heron.DecodingError, match="The deflate stream ended before its end"):
        decoder.flush()


# -- brotli --------------------------------------------------------------------------------


def test_brotli_data_after_the_end_is_corrupt() -> None:
    with pytest.raises(heron.DecodingError, match="Brotli-encoded response body"):
        BrotliDecoder().decode(brotli.compress(TEXT) + b"junk")


def test_brotli_keeps_draining_output_held_inside_the_decoder() -> None:
    # brotli can report that it accepts input again while output is still pending inside it.
    body = bytes(8 * 1024 * 1024)
    decoder = BrotliDecoder()
    total = sum(len(piece) for piece in decoder.decode_iter(brotli.compress(body, quality=5)))
    assert total == len(body)
    assert decoder.flush() == b""


def test_brotli_calls_again_while_the_decoder_refuses_input_even_without_output(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ScriptedError(Exception):
        pass

    class Scripted:
        def __init__(self) -> None:
            self.outputs = [b"", b"abc", b"", b""]
            self.accepting = [False, False, True]

        def process(self, data: bytes, output_buffer_limit: int) -> bytes:
            return self.outputs.pop(0)

        def can_accept_more_data(self) -> bool:
            return self.accepting.pop(0)

    monkeypatch.setitem(
        sys.modules, "brotli", fake_module("brotli", Decompressor=Scripted, error=ScriptedError)
    )
    decoder = BrotliDecoder()
    assert list(decoder.decode_iter(b"input")) == [b"abc"]
    assert decoder._decompressor.outputs == decoder._decompressor.accepting == []


def test_brotli_decoder_without_the_package_names_the_install_command(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "brotlicffi", None)
    with pytest.raises(
        ImportError, match=r"not installed\. Install it with: pip install heron\[brotli\]$"
    ):
        BrotliDecoder()


def fake_module(name: str, **attributes: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def test_brotli_older_than_1_2_counts_as_missing(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OldDecompressor:
        def process(self, data: bytes) -> bytes:  # pragma: no cover - never called
            return data

    old = fake_module("brotli", Decompressor=OldDecompressor, error=Exception, __version__="1.1.0")
    monkeypatch.setitem(sys.modules, "brotli", old)
    monkeypatch.setitem(sys.modules, "brotlicffi", None)
    with pytest.raises(
        ImportError,
        match=r"but brotli 1\.1\.0 is installed\. Upgrade it with: pip install --upgrade heron\[brotli\]",
    ):
        BrotliDecoder()
    assert "br" not in _decoders._SupportedDecoders()


def test_brotli_falls_back_to_brotlicffi(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    brotlicffi = pytest.importorskip("brotlicffi")
    monkeypatch.setitem(sys.modules, "brotli", None)
    assert _decoders._find_brotli() is brotlicffi
    decoder = BrotliDecoder()
    assert decode_in_chunks(decoder, brotli.compress(TEXT), 100) == TEXT
    with pytest.raises(heron.DecodingError, match="Brotli"):
        BrotliDecoder().decode(b"\xff\xff\xff\xff not brotli")


def test_brotli_module_without_a_version_is_reported_as_such(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = fake_module("brotlicffi", Decompressor=object, error=Exception)
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "brotlicffi", old)
    with pytest.raises(ImportError, match=r"but brotlicffi \(unknown version\) is installed"):
        BrotliDecoder()


# -- zstd ----------------------------------------------------------------------------------


def test_zstd_body_of_several_frames_is_decoded_whole() -> None:
    body = zstd(b"first ") + zstd_streamed(b"second ") + zstd(b"third")
    assert ZStandardDecoder().decode(body) == b"first second third"
    assert decode_in_chunks(ZStandardDecoder(), body, 3) == b"first second third"


def test_zstd_data_after_the_last_frame_is_corrupt() -> None:
    with pytest.raises(heron.DecodingError, match="zstd-encoded response body"):
        ZStandardDecoder().decode(zstd(TEXT) + b"junk")


def test_zstd_frame_needing_a_window_over_8_mib_is_refused() -> None:
    assert ZStandardDecoder().decode(zstd_streamed(TEXT, window_log=23)) == TEXT
    with pytest.raises(heron.DecodingError, match="a window over 8 MiB, which RFC 9659"):
        ZStandardDecoder().decode(zstd_streamed(TEXT, window_log=24))


def test_zstd_decoder_without_the_package_names_the_install_command(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_decoders, "_HAS_STDLIB_ZSTD", False)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(
        ImportError, match=r"not installed\. Install it with: pip install heron\[zstd\]$"
    ):
        ZStandardDecoder()
    assert "zstd" not in _decoders._SupportedDecoders()


class LzmaAsZstd:
    """Stands in for compression.zstd.ZstdDecompressor (Python 3.14), which has the same API as
    lzma's decompressor: decompress(data, max_length), eof, needs_input, unused_data."""

    instances: ClassVar[list[LzmaAsZstd]] = []

    def __init__(self, options: dict[object, int]) -> None:
        self.options = options
        self._lzma = lzma.LZMADecompressor()
        self.instances.append(self)

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        return self._lzma.decompress(data, max_length)

    @property
    def eof(self) -> bool:
        return self._lzma.eof

    @property
    def needs_input(self) -> bool:
        return self._lzma.needs_input

    @property
    def unused_data(self) -> bytes:
        return self._lzma.unused_data


@pytest.fixture
def stdlib_zstd(fresh_backends: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the decoder take the Python 3.14 standard-library path, backed by lzma."""
    module = fake_module(
        "compression.zstd",
        ZstdDecompressor=LzmaAsZstd,
        ZstdError=lzma.LZMAError,
        DecompressionParameter=types.SimpleNamespace(window_log_max="window_log_max"),
    )
    monkeypatch.setattr(_decoders, "_HAS_STDLIB_ZSTD", True)
    monkeypatch.setitem(sys.modules, "compression", fake_module("compression", zstd=module))
    monkeypatch.setitem(sys.modules, "compression.zstd", module)
    LzmaAsZstd.instances.clear()


def test_zstd_prefers_the_standard_library_on_python_3_14(stdlib_zstd: None) -> None:
    decoder = ZStandardDecoder()
    assert decoder.decode(lzma.compress(TEXT)) == TEXT
    assert decoder.flush() == b""
    assert LzmaAsZstd.instances[0].options == {"window_log_max": 23}


def test_zstd_standard_library_path_handles_frames_pieces_and_errors(stdlib_zstd: None) -> None:
    big = bytes(3 * DECODED_PIECE_SIZE + 5)
    body = lzma.compress(big) + lzma.compress(b"second frame")
    decoder = ZStandardDecoder()
    pieces = [
        piece
        for start in range(0, len(body), 7)
        for piece in decoder.decode_iter(body[start : start + 7])
    ]
    assert b"".join(pieces) == big + b"second frame"
    assert max(map(len, pieces)) <= DECODED_PIECE_SIZE
    assert decoder.flush() == b""
    assert ZStandardDecoder().decode(body) == big + b"second frame"

    truncated = ZStandardDecoder()
    truncated.decode(lzma.compress(TEXT)[:-3])
    with pytest.raises(heron.DecodingError, match="The zstd stream ended before its end marker"):
        truncated.flush()
    with pytest.raises(heron.DecodingError, match="zstd-encoded response body"):
        ZStandardDecoder().decode(lzma.compress(TEXT) + b"junk")


def test_zstd_falls_back_to_zstandard_when_the_standard_library_lacks_it(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_decoders, "_HAS_STDLIB_ZSTD", True)
    monkeypatch.setitem(sys.modules, "compression.zstd", None)
    assert _decoders._find_zstd() is zstandard
    assert ZStandardDecoder().decode(zstd(TEXT)) == TEXT


# -- bounded memory ------------------------------------------------------------------------


def gzip_bomb(total: int, block: int = 1 << 20) -> bytes:
    """A gzip body of ``total`` zero bytes, built without compressing them all.

    After a full flush deflate starts afresh, so compressing the same block again gives the
    same bytes: compress it twice, repeat the second copy, and write the trailer by hand.
    """
    zeros = bytes(block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert middle == again
    end = compressor.flush()[:-8]  # The final block, without the trailer for 3 blocks.
    crc = 0
    for _ in range(total // block):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, total & 0xFFFFFFFF)
    return first + middle * (total // block - 1) + end + trailer


def test_gzip_bomb_builder_makes_valid_gzip() -> None:
    assert gzip.decompress(gzip_bomb(4 << 20)) == bytes(4 << 20)


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB.


def test_gzip_bomb_of_1_gib_decodes_in_bounded_memory() -> None:
    total = 1 << 30
    bomb = gzip_bomb(total)
    assert len(bomb) < 2 << 20
    rss_before = peak_rss_bytes()
    tracemalloc.start()
    try:
        decoder = GZipDecoder()
        decoded = largest = 0
        for start in range(0, len(bomb), 65536):
            for piece in decoder.decode_iter(bomb[start : start + 65536]):
                decoded += len(piece)
                largest = max(largest, len(piece))
        assert decoder.flush() == b""
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded == total
    assert largest <= DECODED_PIECE_SIZE
    assert traced_peak < 8 << 20
    assert peak_rss_bytes() - rss_before < 100 << 20


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("gzip", DECODED_PIECE_SIZE),
        ("deflate-raw", DECODED_PIECE_SIZE),
        ("br", 2 * DECODED_PIECE_SIZE),
        ("zstd", DECODED_PIECE_SIZE),
        ("gzip,br", 2 * DECODED_PIECE_SIZE),
        ("deflate,zstd,gzip", DECODED_PIECE_SIZE),
    ],
)
def test_highly_compressed_body_comes_out_in_bounded_pieces(name: str, limit: int) -> None:
    make, compress = CODINGS[name]
    total = 64 << 20
    encoded = compress(bytes(total))
    assert len(encoded) < total // 500
    decoder = make()
    tracemalloc.start()
    try:
        sizes = [len(piece) for piece in decoder.decode_iter(encoded)]
        decoder.flush()
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(sizes) == total
    assert max(sizes) <= limit
    # zstandard can't cap one call's output: a 512-byte input slice may give ~16 MiB, which
    # it builds from a list of smaller buffers, so twice that at the peak.
    assert traced_peak < 40 << 20


def test_zstandard_output_is_regrouped_into_full_pieces() -> None:
    # Ordinary data expands little per input slice; pieces should still be full-sized.
    data = bytes(range(256)) * 2000
    params = zstandard.ZstdCompressionParameters(compression_level=1, window_log=10)
    encoded = zstandard.ZstdCompressor(compression_params=params).compress(data)
    sizes = [len(piece) for piece in ZStandardDecoder().decode_iter(encoded)]
    assert sum(sizes) == len(data)
    assert sizes[:-1] == [DECODED_PIECE_SIZE] * (len(sizes) - 1)


# -- MultiDecoder, SUPPORTED_DECODERS, get_content_decoder ---------------------------------


def test_multi_decoder_undoes_codings_in_reverse_order() -> None:
    body = brotli.compress(gzip.compress(b"payload"))
    assert MultiDecoder([GZipDecoder(), BrotliDecoder()]).decode(body) == b"payload"
    with pytest.raises(heron.DecodingError, match="gzip"):
        MultiDecoder([BrotliDecoder(), GZipDecoder()]).decode(body)


def test_multi_decoder_reports_a_truncated_inner_stream() -> None:
    decoder = MultiDecoder([GZipDecoder(), IdentityDecoder()])
    decoder.decode(gzip.compress(TEXT)[:-3])
    with pytest.raises(heron.DecodingError, match="gzip stream ended"):
        decoder.flush()


def test_multi_decoder_passes_flushed_output_through_later_stages() -> None:
    class HoldsBack(IdentityDecoder):
        """Passes nothing on until flushed (the decoders here never need to)."""

        def __init__(self) -> None:
            self.held = b""

        def decode_iter(self, data: bytes) -> Iterator[bytes]:
            self.held += data
            return iter(())

        def flush(self) -> bytes:
            return self.held

    decoder = MultiDecoder([GZipDecoder(), HoldsBack()])
    assert decoder.decode(gzip.compress(b"abc")) == b""
    assert decoder.flush() == b"abc"


def test_supported_decoders_lists_every_coding_in_accept_encoding_order() -> None:
    assert list(SUPPORTED_DECODERS) == ["identity", "gzip", "deflate", "br", "zstd"]
    assert len(SUPPORTED_DECODERS) == 5
    assert SUPPORTED_DECODERS["gzip"] is GZipDecoder
    assert SUPPORTED_DECODERS.get("compress") is None
    assert "br" in SUPPORTED_DECODERS
    not_a_name: object = 1
    assert not_a_name not in SUPPORTED_DECODERS
    assert repr(SUPPORTED_DECODERS).startswith("{'identity': <class 'heron._decoders.Identity")
    with pytest.raises(KeyError):
        SUPPORTED_DECODERS["compress"]


def test_supported_decoders_omits_codings_whose_package_is_missing(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "brotlicffi", None)
    monkeypatch.setattr(_decoders, "_HAS_STDLIB_ZSTD", False)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    supported = _decoders._SupportedDecoders()
    monkeypatch.setattr(_decoders, "SUPPORTED_DECODERS", supported)
    assert list(supported) == ["identity", "gzip", "deflate"]
    # A coding heron can't decode passes through untouched, as with httpx.
    encoded = brotli.compress(b"data")
    assert get_content_decoder(["br"]).decode(encoded) == encoded
    assert get_content_decoder(["gzip, br"]).decode(gzip.compress(encoded)) == encoded


def test_supported_decoders_imports_nothing_until_first_used(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported: list[str] = []
    real = importlib.import_module

    def import_module(name: str) -> types.ModuleType:
        imported.append(name)
        return real(name)

    monkeypatch.setattr(importlib, "import_module", import_module)
    supported = _decoders._SupportedDecoders()
    assert imported == []
    assert "zstd" in supported
    assert "brotli" in imported
    assert "zstandard" in imported


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], IdentityDecoder),
        ([""], IdentityDecoder),
        ([" , ,"], IdentityDecoder),
        (["identity"], IdentityDecoder),
        (["IDENTITY"], IdentityDecoder),
        (["compress"], IdentityDecoder),
        (["gzip"], GZipDecoder),
        (["GZip"], GZipDecoder),
        (["  gzip  "], GZipDecoder),
        (["x-gzip"], GZipDecoder),
        (["deflate"], DeflateDecoder),
        (["br"], BrotliDecoder),
        (["zstd"], ZStandardDecoder),
        (["identity, gzip"], GZipDecoder),
        (["unknown, gzip"], GZipDecoder),
        (["gzip, br"], MultiDecoder),
        (["gzip", "br"], MultiDecoder),
    ],
)
def test_get_content_decoder_picks_the_decoder(values: list[str], expected: type) -> None:
    assert type(get_content_decoder(values)) is expected


@pytest.mark.parametrize("values", [["gzip, br"], ["gzip", "br"], ["GZIP ,BR"], ["gzip, foo, br"]])
def test_get_content_decoder_chains_codings_in_header_order(values: list[str]) -> None:
    body = brotli.compress(gzip.compress(b"chained"))
    assert get_content_decoder(values).decode(body) == b"chained"


def test_get_content_decoder_unknown_coding_passes_the_body_through() -> None:
    decoder = get_content_decoder(["compress"])
    assert decoder.decode(b"\x1f\x9d raw") == b"\x1f\x9d raw"
    assert decoder.flush() == b""


# -- ByteChunker and TextChunker ----------------------------------------------------------


def test_byte_chunker_regroups_into_exact_sizes() -> None:
    chunker = ByteChunker(3)
    assert chunker.decode(b"ab") == []
    assert chunker.decode(b"cdefgh") == [b"abc", b"def"]
    assert chunker.decode(b"") == []
    assert chunker.decode(b"i") == [b"ghi"]
    assert chunker.decode(b"xyz") == [b"xyz"]
    assert chunker.decode(b"1234567") == [b"123", b"456"]
    assert chunker.flush() == [b"7"]
    assert chunker.flush() == []


def test_byte_chunker_without_a_size_passes_chunks_through_but_not_empty_ones() -> None:
    chunker = ByteChunker()
    assert chunker.decode(b"abc") == [b"abc"]
    assert chunker.decode(b"") == []
    assert chunker.flush() == []


def test_text_chunker_counts_characters() -> None:
    chunker = TextChunker(2)
    assert chunker.decode("héllo") == ["hé", "ll"]
    assert chunker.flush() == ["o"]
    assert TextChunker(None).decode("ü") == ["ü"]


@pytest.mark.parametrize("chunker_class", [ByteChunker, TextChunker])
@pytest.mark.parametrize("size", [0, -1])
def test_chunker_refuses_a_size_below_one(chunker_class: type, size: int) -> None:
    with pytest.raises(
        ValueError, match=f"chunk_size must be a positive number of .*; got {size}"
    ):
        chunker_class(size)


def test_chunker_refuses_a_size_that_is_not_an_int() -> None:
    with pytest.raises(TypeError, match="chunk_size must be an int or None, not float"):
        ByteChunker(1.5)  # type: ignore[arg-type]


@given(
    chunks=st.lists(st.binary(max_size=40), max_size=12),
    size=st.one_of(st.none(), st.integers(min_value=1, max_value=17)),
)
def test_byte_chunker_keeps_every_byte_in_full_chunks(
    chunks: list[bytes], size: int | None
) -> None:
    chunker = ByteChunker(size)
    out = [piece for chunk in chunks for piece in chunker.decode(chunk)] + chunker.flush()
    assert b"".join(out) == b"".join(chunks)
    assert all(out)
    if size is not None:
        assert all(len(piece) == size for piece in out[:-1])
        assert all(len(piece) <= size for piece in out[-1:])


# -- TextDecoder ---------------------------------------------------------------------------


def test_text_decoder_holds_back_a_split_multibyte_character() -> None:
    decoder = TextDecoder("utf-8")
    assert decoder.decode(b"\xe2\x82") == []
    assert decoder.decode(b"\xac!") == ["€!"]
    assert decoder.flush() == []


def test_text_decoder_replaces_invalid_and_dangling_bytes() -> None:
    decoder = TextDecoder("utf-8")
    assert decoder.decode(b"ok \xff ok \xe2") == ["ok \ufffd ok "]
    assert decoder.flush() == ["\ufffd"]


def test_text_decoder_reads_utf16_with_a_byte_order_mark() -> None:
    body = b"\xfe\xff" + "hi there".encode("utf-16-be")
    assert TextDecoder("utf-16").decode(body) == ["hi there"]


@pytest.mark.parametrize(("name", "width"), [("utf-16", 2), ("UTF16", 2), ("utf-32", 4)])
def test_text_decoder_reads_utf16_and_utf32_without_bom_as_little_endian(
    name: str, width: int
) -> None:
    body = "héllo €".encode(f"utf-{width * 8}-le")
    decoder = TextDecoder(name)
    assert decoder.decode(body[:1]) == []
    assert "".join(decoder.decode(body[1:]) + decoder.flush()) == "héllo €"
    one_go = TextDecoder(name)
    assert one_go.decode(body) + one_go.flush() == ["héllo €"]


def test_text_decoder_utf16_without_bom_detected_only_at_the_end() -> None:
    decoder = TextDecoder("utf-16")
    assert decoder.decode(b"a") == []
    assert decoder.flush() == ["\ufffd"]


def test_text_decoder_unknown_encoding_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="unknown encoding: no-such-codec"):
        TextDecoder("no-such-codec")


@pytest.mark.parametrize("name", ["hex", "base64", "zlib", "rot13"])
def test_text_decoder_refuses_codecs_that_do_not_decode_to_text(name: str) -> None:
    with pytest.raises(LookupError, match=f"'{name}' is not a text encoding"):
        TextDecoder(name)


def test_text_decoder_refuses_a_codec_without_an_incremental_decoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    info = codecs.CodecInfo(encode=codecs.utf_8_encode, decode=codecs.utf_8_decode, name="flat")

    def search(name: str) -> codecs.CodecInfo | None:
        return info if name == "flat" else None

    codecs.register(search)
    try:
        with pytest.raises(LookupError, match="'flat' is not a text encoding that can decode"):
            TextDecoder("flat")
    finally:
        codecs.unregister(search)


def test_text_decoder_codec_that_cannot_replace_errors_raises_decoding_error() -> None:
    decoder = TextDecoder("idna")
    with pytest.raises(heron.DecodingError, match="Failed to decode the response body as idna"):
        decoder.decode(b"example")
    with pytest.raises(heron.DecodingError, match=r"Set response\.encoding"):
        decoder.flush()


@settings(max_examples=60)
@given(
    text=st.text(max_size=200),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-16-be", "utf-32", "gb18030", "latin-1"]),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_text_decoder_output_does_not_depend_on_chunk_boundaries(
    text: str, encoding: str, cuts: list[int]
) -> None:
    if encoding == "latin-1":
        text = text.encode("latin-1", "replace").decode("latin-1")
    decoder = TextDecoder(encoding)
    out = [
        piece for chunk in split(text.encode(encoding), cuts) for piece in decoder.decode(chunk)
    ]
    out += decoder.flush()
    assert "".join(out) == text
    assert all(out)


# -- LineDecoder ---------------------------------------------------------------------------

# Expected lines observed from httpx 0.28.1's Response.iter_lines on the same bodies (except
# the last cases: httpx also splits on \x0b, \x0c, \x1c-\x1e, \x85, \u2028 and \u2029).
LINE_CASES = [
    ("", []),
    ("\n", [""]),
    ("\r", [""]),
    ("\r\n", [""]),
    ("a\n", ["a"]),
    ("a\n\n", ["a", ""]),
    ("\n\na", ["", "", "a"]),
    ("a\r\n\r\nb", ["a", "", "b"]),
    ("a\rb", ["a", "b"]),
    ("a\r", ["a"]),
    ("a\r\r\nb", ["a", "", "b"]),
    ("a\n\rb", ["a", "", "b"]),
    ("a\r\n", ["a"]),
    ("no newline", ["no newline"]),
    ('{"s": "a\u2028b"}\n', ['{"s": "a\u2028b"}']),
    ("a\x0bb\x0cc\x1cd\x85e", ["a\x0bb\x0cc\x1cd\x85e"]),
]


@pytest.mark.parametrize(("text", "lines"), LINE_CASES)
def test_line_decoder_splits_like_iter_lines(text: str, lines: list[str]) -> None:
    decoder = LineDecoder()
    assert decoder.decode(text) + decoder.flush() == lines


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        (["a\r", "\nb"], ["a", "b"]),
        (["a\r", "", "\nb"], ["a", "b"]),
        (["a\r", "b"], ["a", "b"]),
        (["a\r"], ["a"]),
        (["a", "\r", "\n", "\r", "\n"], ["a", ""]),
        (["par", "tial", " line\nnext"], ["partial line", "next"]),
    ],
)
def test_line_decoder_joins_breaks_and_lines_split_across_chunks(
    chunks: list[str], lines: list[str]
) -> None:
    decoder = LineDecoder()
    assert [line for chunk in chunks for line in decoder.decode(chunk)] + decoder.flush() == lines


def test_line_decoder_forgets_a_trailing_cr_when_flushed() -> None:
    decoder = LineDecoder()
    assert decoder.decode("a\r") == ["a"]
    assert decoder.flush() == []
    assert decoder.decode("\nb") == [""]
    assert decoder.flush() == ["b"]


def test_line_decoder_long_line_in_tiny_chunks_is_linear() -> None:
    # Joined once at the line break: 200_000 one-character chunks would take minutes if every
    # chunk rescanned or re-copied the line so far.
    decoder = LineDecoder()
    for _ in range(200_000):
        assert decoder.decode("x") == []
    assert decoder.decode("\ny") == ["x" * 200_000]
    assert decoder.flush() == ["y"]


@settings(max_examples=150)
@given(
    text=st.text(alphabet=st.sampled_from("ab\r\n\u2028"), max_size=40),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_line_decoder_lines_do_not_depend_on_chunk_boundaries(text: str, cuts: list[int]) -> None:
    whole = LineDecoder()
    expected = whole.decode(text) + whole.flush()
    decoder = LineDecoder()
    chunks = [text[start:end] for start, end in _pairs(text, cuts)]
    lines = [line for chunk in chunks for line in decoder.decode(chunk)] + decoder.flush()
    assert lines == expected
    assert "\n".join(expected) == text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")


def _pairs(text: str, cuts: list[int]) -> list[tuple[int, int]]:
    points = sorted({cut % (len(text) + 1) for cut in cuts})
    return list(zip([0, *points], [*points, len(text)], strict=True))
