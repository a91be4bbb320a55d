"""WSGITransport and AsyncWSGITransport: the PEP 3333 environ, streaming bodies, app errors."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest
from flask import Flask, stream_with_context, url_for
from flask import Response as FlaskResponse
from flask import request as flask_request

import heron
from heron._transports.wsgi import AsyncWSGITransport, WSGITransport

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]


def capture_environ(url: str = "http://example.org/", **options: Any) -> Environ:
    seen: list[Environ] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.append(environ)
        start_response("200 OK", [])
        return []

    request_options = options.pop("request", {})
    method = request_options.pop("method", "GET")
    transport = WSGITransport(app, **options)
    transport.handle_request(heron.Request(method, url, **request_options)).read()
    return seen[0]


def send(
    app: Any, url: str = "http://example.org/", method: str = "GET", **options: Any
) -> heron.Response:
    transport = WSGITransport(app, **options.pop("transport", {}))
    return transport.handle_request(heron.Request(method, url, **options))


class Recorder:
    """A WSGI app body that records how far it was iterated and whether it was closed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = list(chunks)
        self.produced: list[bytes] = []
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.produced.append(chunk)
            yield chunk

    def close(self) -> None:
        self.closed += 1


# The environ ---------------------------------------------------------------------------------


def test_environ_has_the_pep_3333_keys() -> None:
    environ = capture_environ("http://example.org/path?a=1&b=%20")
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.input_terminated"] is True
    assert environ["wsgi.errors"] is sys.stderr
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/path"
    assert environ["QUERY_STRING"] == "a=1&b=%20"
    assert environ["SERVER_NAME"] == "example.org"
    assert environ["SERVER_PORT"] == "80"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["HTTP_HOST"] == "example.org"


@pytest.mark.parametrize(
    ("url", "scheme", "port"),
    [
        ("https://example.org/", "https", "443"),
        ("http://example.org:8080/", "http", "8080"),
        ("https://example.org:8443/", "https", "8443"),
    ],
)
def test_environ_server_port_comes_from_the_url(url: str, scheme: str, port: str) -> None:
    environ = capture_environ(url)
    assert environ["wsgi.url_scheme"] == scheme
    assert environ["SERVER_PORT"] == port


def test_environ_server_name_is_the_idna_host() -> None:
    environ = capture_environ("http://bücher.example/")
    assert environ["SERVER_NAME"] == "xn--bcher-kva.example"


def test_path_info_is_unquoted_and_decoded_as_latin_1_per_pep_3333() -> None:
    environ = capture_environ("http://example.org/a%20b/%E2%9C%93/c%2Fd")
    assert environ["PATH_INFO"] == "/a b/\xe2\x9c\x93/c/d"
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/a b/✓/c/d"


def test_script_name_is_moved_out_of_path_info() -> None:
    environ = capture_environ("http://example.org/app/users", script_name="/app")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/app", "/users")


def test_script_name_with_a_trailing_slash_is_normalised() -> None:
    environ = capture_environ("http://example.org/app", script_name="/app/")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/app", "")


def test_path_outside_the_script_name_is_left_whole() -> None:
    environ = capture_environ("http://example.org/application/x", script_name="/app")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/app", "/application/x")


def test_remote_addr_and_wsgi_errors_are_configurable() -> None:
    errors = io.StringIO()
    environ = capture_environ(remote_addr="10.1.2.3", wsgi_errors=errors)
    assert environ["REMOTE_ADDR"] == "10.1.2.3"
    assert environ["wsgi.errors"] is errors


def test_headers_become_cgi_variables() -> None:
    environ = capture_environ(
        request={
            "method": "POST",
            "headers": [
                ("X-Custom-Thing", "1"),
                ("x-repeated", "a"),
                ("X-Repeated", "b"),
                ("Cookie", "a=1"),
                ("Cookie", "b=2"),
                ("Content-Type", "application/json"),
            ],
            "content": b"{}",
        }
    )
    assert environ["HTTP_X_CUSTOM_THING"] == "1"
    assert environ["HTTP_X_REPEATED"] == "a, b"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["CONTENT_LENGTH"] == "2"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ


def test_header_values_are_latin_1_native_strings() -> None:
    environ = capture_environ(request={"headers": [(b"X-Name", "café".encode())]})
    assert environ["HTTP_X_NAME"] == "caf\xc3\xa9"


# The request body ----------------------------------------------------------------------------


def echo_body(environ: Environ, start_response: StartResponse) -> list[bytes]:
    body = environ["wsgi.input"]
    first_line = body.readline()
    rest = body.read()
    start_response("200 OK", [])
    return [first_line, b"|", rest]


def test_bytes_body_is_readable_from_wsgi_input() -> None:
    response = send(echo_body, method="POST", content=b"line\nrest")
    assert response.read() == b"line\n|rest"


def test_streamed_body_is_read_lazily_from_wsgi_input() -> None:
    pulled: list[bytes] = []

    def body() -> Iterator[bytes]:
        for chunk in (b"li", b"", b"ne\nre", b"st"):
            pulled.append(chunk)
            yield chunk

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        assert pulled == []
        assert environ["HTTP_TRANSFER_ENCODING"] == "chunked"
        parts = [stream.read(1), stream.readline(), stream.read(), stream.read()]
        start_response("200 OK", [])
        return [b"|".join(parts)]

    assert send(app, method="POST", content=body()).read() == b"l|ine\n|rest|"


def test_streamed_body_read_in_small_pieces() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raw = environ["wsgi.input"].raw
        buffer = bytearray(2)
        pieces = []
        while size := raw.readinto(buffer):
            pieces.append(bytes(buffer[:size]))
        assert raw.readinto(buffer) == 0
        start_response("200 OK", [])
        return [b",".join(pieces)]

    assert send(app, method="POST", content=iter([b"abc", b"d"])).read() == b"ab,c,d"


def test_async_body_in_the_sync_transport_is_a_clear_error() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"x"  # pragma: no cover - never iterated

    request = heron.Request("POST", "http://x/", content=body())
    with pytest.raises(RuntimeError, match="async body, which a sync transport can't read"):
        WSGITransport(echo_body).handle_request(request)


# The response --------------------------------------------------------------------------------


def test_status_headers_and_reason_phrase_come_from_the_app() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(
            "404 Nothing Here", [("Content-Type", "text/plain"), ("X-A", "1"), ("X-A", "2")]
        )
        return [b"missing"]

    request = heron.Request("GET", "http://x/")
    response = WSGITransport(app).handle_request(request)
    assert response.status_code == 404
    assert response.reason_phrase == "Nothing Here"
    assert response.headers.get_list("x-a") == ["1", "2"]
    assert response.headers["content-type"] == "text/plain"
    assert response.request is request
    assert response.read() == b"missing"


def test_body_streams_from_the_iterable_and_it_is_closed_at_the_end() -> None:
    body = Recorder([b"", b"one", b"", b"two", b"three"])

    def app(environ: Environ, start_response: StartResponse) -> Recorder:
        start_response("200 OK", [])
        return body

    response = send(app)
    # Only the first non-empty chunk has been produced (PEP 3333: headers go out with it).
    assert body.produced == [b"", b"one"]
    chunks = response.iter_raw()
    assert next(chunks) == b"one"
    assert body.produced == [b"", b"one"]
    assert next(chunks) == b"two"
    assert body.produced == [b"", b"one", b"", b"two"]
    assert list(chunks) == [b"three"]
    assert body.closed == 1
    response.close()
    assert body.closed == 1


def test_closing_the_response_early_closes_the_iterable() -> None:
    body = Recorder([b"one", b"two"])

    def app(environ: Environ, start_response: StartResponse) -> Recorder:
        start_response("200 OK", [])
        return body

    response = send(app)
    response.close()
    assert body.closed == 1
    assert body.produced == [b"one"]


def test_empty_body() -> None:
    body = Recorder([b"", b""])

    def app(environ: Environ, start_response: StartResponse) -> Recorder:
        start_response("204 No Content", [])
        return body

    response = send(app)
    assert response.read() == b""
    assert body.closed == 1


def test_start_response_may_be_called_from_inside_a_generator() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("201 Created", [("X-Lazy", "yes")])
        yield b"made"

    response = send(app)
    assert (response.status_code, response.headers["x-lazy"]) == (201, "yes")
    assert response.read() == b"made"


def test_write_callable_data_comes_before_the_iterable() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [])
        write(b"written ")
        write(b"")
        return [b"returned"]

    assert send(app).read() == b"written returned"


def test_write_during_iteration_keeps_the_order() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [])
        yield b"a"
        write(b"b")
        yield b""
        yield b"c"

    assert send(app).read() == b"abc"


def test_write_takes_bytes_only() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])("text")  # type: ignore[arg-type]
        return []  # pragma: no cover - write raised

    with pytest.raises(TypeError, match="passed str to write"):
        send(app)


def test_yielding_text_is_a_clear_error() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[str]:
        start_response("200 OK", [])
        return ["text"]

    with pytest.raises(TypeError, match="yielded str, but a WSGI body is made of bytes"):
        send(app)


@pytest.mark.parametrize("status", ["OK 200", "2000 Big", "200 Caf\xe9", b"200 OK", 200])
def test_invalid_status_is_a_clear_error(status: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(status, [])
        return []  # pragma: no cover - start_response raised

    with pytest.raises(ValueError, match="a status is a str such as '200 OK'"):
        send(app)


def test_three_digit_status_without_reason_is_accepted() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("299 ", [])
        return []

    assert send(app).status_code == 299


@pytest.mark.parametrize("headers", [[("X-A", 1)], [("X-A",)], [("X-Snow", "☃")], None])
def test_invalid_headers_are_a_clear_error(headers: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", headers)
        return []  # pragma: no cover - start_response raised

    with pytest.raises(TypeError, match="headers are a list of"):
        send(app)


# App errors ----------------------------------------------------------------------------------


def failing_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    raise ValueError("boom")


def test_app_exception_is_raised_by_default() -> None:
    with pytest.raises(ValueError, match="boom"):
        send(failing_app)


def test_app_exception_becomes_a_500_when_not_raising() -> None:
    response = send(failing_app, transport={"raise_app_exceptions": False})
    assert response.status_code == 500
    assert response.read() == b""


def test_app_exception_in_the_first_chunk_becomes_a_500_and_closes_the_iterable() -> None:
    closed: list[bool] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            raise ValueError("boom")
            yield b""  # pragma: no cover - makes this a generator
        finally:
            closed.append(True)

    response = send(app, transport={"raise_app_exceptions": False})
    assert response.status_code == 500
    assert closed == [True]


def test_exc_info_replaces_the_status_before_the_headers_are_sent() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("X-Old", "1")])
        try:
            raise KeyError("missing")
        except KeyError:
            start_response("500 Internal Server Error", [("X-New", "1")], sys.exc_info())
        return [b"error page"]

    response = send(app, transport={"raise_app_exceptions": False})
    assert response.status_code == 500
    assert "x-old" not in response.headers
    assert response.read() == b"error page"


def test_exc_info_is_raised_when_raising_app_exceptions() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        try:
            raise KeyError("missing")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return []  # pragma: no cover - start_response raised

    with pytest.raises(KeyError, match="missing"):
        send(app)


def test_exc_info_of_none_is_a_plain_call() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [], (None, None, None))
        return [b"ok"]

    assert send(app).read() == b"ok"


def test_exc_info_after_the_headers_were_sent_is_reraised_mid_body() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise KeyError("late")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"  # pragma: no cover - start_response raised

    response = send(app, transport={"raise_app_exceptions": False})
    assert response.status_code == 200
    with pytest.raises(
        heron.RemoteProtocolError, match=r"body is incomplete \(KeyError: 'late'\)"
    ):
        response.read()


def test_start_response_twice_without_exc_info_is_an_error() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        start_response("201 Created", [])
        return []  # pragma: no cover - start_response raised

    with pytest.raises(RuntimeError, match="a second time without exc_info"):
        send(app)


def test_app_returning_without_start_response() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return [b"body"]

    with pytest.raises(RuntimeError, match="without calling start_response"):
        send(app)
    assert send(app, transport={"raise_app_exceptions": False}).status_code == 500


def test_app_exception_mid_body_is_raised() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        raise ValueError("mid-body")

    response = send(app)
    with pytest.raises(ValueError, match="mid-body"):
        response.read()


def test_app_exception_mid_body_is_a_protocol_error_when_not_raising() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        raise ValueError("mid-body")

    response = send(app, transport={"raise_app_exceptions": False})
    chunks = response.iter_raw()
    assert next(chunks) == b"partial"
    with pytest.raises(heron.RemoteProtocolError) as info:
        next(chunks)
    assert isinstance(info.value.__cause__, ValueError)


class FailingClose(Recorder):
    def close(self) -> None:
        super().close()
        raise OSError("close failed")


def test_error_from_close_is_raised_when_raising_app_exceptions() -> None:
    body = FailingClose([b"x"])

    def app(environ: Environ, start_response: StartResponse) -> FailingClose:
        start_response("200 OK", [])
        return body

    response = send(app)
    with pytest.raises(OSError, match="close failed"):
        response.read()
    response.close()
    assert body.closed == 1


def test_error_from_close_is_dropped_when_not_raising() -> None:
    body = FailingClose([b"x"])

    def app(environ: Environ, start_response: StartResponse) -> FailingClose:
        start_response("200 OK", [])
        return body

    assert send(app, transport={"raise_app_exceptions": False}).read() == b"x"
    assert body.closed == 1


def test_error_from_close_after_an_app_error_does_not_hide_it() -> None:
    class Failing(FailingClose):
        def __iter__(self) -> Iterator[bytes]:
            raise ValueError("the real error")

    def app(environ: Environ, start_response: StartResponse) -> FailingClose:
        start_response("200 OK", [])
        return Failing([])

    with pytest.raises(ValueError, match="the real error"):
        send(app)


# Flask ---------------------------------------------------------------------------------------


@pytest.fixture
def flask_app() -> Flask:
    app = Flask(__name__)

    @app.route("/")
    def hello() -> str:
        return "Hello World"

    @app.route("/echo", methods=["POST"])
    def echo() -> dict[str, Any]:
        return {
            "form": flask_request.form.to_dict(),
            "args": flask_request.args.to_dict(),
            "agent": flask_request.headers.get("User-Agent"),
            "cookie": flask_request.cookies.get("flavour"),
        }

    @app.route("/json", methods=["POST"])
    def json() -> Any:
        return {"got": flask_request.get_json()}

    @app.route("/where/<name>")
    def where(name: str) -> dict[str, str]:
        return {"name": name, "url": url_for("where", name=name), "root": flask_request.root_path}

    @app.route("/stream")
    def stream() -> FlaskResponse:
        def generate() -> Iterator[str]:
            yield "a"
            yield flask_request.args.get("last", "z")

        return FlaskResponse(stream_with_context(generate()), mimetype="text/plain")

    @app.route("/boom")
    def boom() -> str:
        raise ValueError("flask boom")

    return app


def test_flask_hello_world(flask_app: Flask) -> None:
    response = send(flask_app, "http://testserver/")
    assert response.status_code == 200
    assert response.read() == b"Hello World"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_flask_sees_form_params_headers_and_cookies(flask_app: Flask) -> None:
    response = send(
        flask_app,
        "http://testserver/echo?page=2",
        method="POST",
        data={"key": "value"},
        headers={"User-Agent": "my-app/0.0.1", "Cookie": "flavour=chip"},
    )
    response.read()
    assert response.json() == {
        "form": {"key": "value"},
        "args": {"page": "2"},
        "agent": "my-app/0.0.1",
        "cookie": "chip",
    }


def test_flask_reads_json_and_unicode_paths(flask_app: Flask) -> None:
    response = send(flask_app, "http://testserver/json", method="POST", json={"a": [1, "✓"]})
    response.read()
    assert response.json() == {"got": {"a": [1, "✓"]}}
    response = send(flask_app, "http://testserver/where/caf%C3%A9")
    response.read()
    assert response.json()["name"] == "café"


def test_flask_mounted_under_a_script_name(flask_app: Flask) -> None:
    response = send(flask_app, "http://testserver/api/where/x", transport={"script_name": "/api"})
    response.read()
    assert response.json() == {"name": "x", "url": "/api/where/x", "root": "/api"}


def test_flask_streaming_response(flask_app: Flask) -> None:
    response = send(flask_app, "http://testserver/stream?last=b")
    assert list(response.iter_raw()) == [b"a", b"b"]


def test_flask_errors_propagate_or_become_500(flask_app: Flask) -> None:
    flask_app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ValueError, match="flask boom"):
        send(flask_app, "http://testserver/boom")
    flask_app.config["PROPAGATE_EXCEPTIONS"] = False
    response = send(flask_app, "http://testserver/boom", transport={"raise_app_exceptions": False})
    assert response.status_code == 500


# AsyncWSGITransport ----------------------------------------------------------------------------


async def async_send(
    app: Any, url: str = "http://example.org/", method: str = "GET", **options: Any
) -> heron.Response:
    transport = AsyncWSGITransport(app, **options.pop("transport", {}))
    return await transport.handle_async_request(heron.Request(method, url, **options))


@pytest.mark.anyio
async def test_async_transport_does_not_block_the_event_loop() -> None:
    entered = threading.Event()
    release = threading.Event()
    loop_thread = threading.get_ident()
    app_threads: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        app_threads.append(threading.get_ident())
        entered.set()
        released = release.wait(timeout=10)
        start_response("200 OK", [])
        return [b"released" if released else b"timed out"]

    progressed = anyio.Event()
    results: list[bytes] = []

    async def request() -> None:
        response = await async_send(app)
        results.append(await response.aread())

    async def other_task() -> None:
        await anyio.to_thread.run_sync(entered.wait)
        progressed.set()  # the loop runs while the app blocks in its thread

    async with anyio.create_task_group() as tg:
        tg.start_soon(request)
        tg.start_soon(other_task)
        await progressed.wait()
        release.set()
    assert results == [b"released"]
    assert app_threads[0] != loop_thread


@pytest.mark.anyio
async def test_async_transport_pulls_body_chunks_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("X-A", "1")])
        for chunk in (b"one", b"", b"two"):
            threads.append(threading.get_ident())
            yield chunk

    response = await async_send(app)
    assert response.headers["x-a"] == "1"
    assert [chunk async for chunk in response.aiter_raw()] == [b"one", b"two"]
    assert threads
    assert loop_thread not in threads
    assert response.is_closed


@pytest.mark.anyio
async def test_async_transport_closes_the_iterable_early() -> None:
    body = Recorder([b"one", b"two"])

    def app(environ: Environ, start_response: StartResponse) -> Recorder:
        start_response("200 OK", [])
        return body

    response = await async_send(app)
    await response.aclose()
    await response.aclose()
    assert body.closed == 1
    assert body.produced == [b"one"]


@pytest.mark.anyio
async def test_async_transport_streams_an_async_request_body_to_wsgi_input() -> None:
    async def upload() -> AsyncIterator[bytes]:
        yield b"up"
        yield b"load"

    response = await async_send(echo_body, method="POST", content=upload())
    assert await response.aread() == b"upload|"


@pytest.mark.anyio
async def test_async_transport_reads_a_sync_request_body_in_the_thread() -> None:
    stream = heron.Request("POST", "http://x/", content=iter([b"a\n", b"b"])).stream
    request = heron.Request("POST", "http://x/", stream=stream)
    response = await AsyncWSGITransport(echo_body).handle_async_request(request)
    assert await response.aread() == b"a\n|b"


@pytest.mark.anyio
async def test_async_transport_bytes_body_and_errors() -> None:
    response = await async_send(echo_body, method="POST", content=b"x\ny")
    assert await response.aread() == b"x\n|y"
    with pytest.raises(ValueError, match="boom"):
        await async_send(failing_app)
    response = await async_send(failing_app, transport={"raise_app_exceptions": False})
    assert response.status_code == 500


@pytest.mark.anyio
async def test_flask_through_the_async_transport(flask_app: Flask) -> None:
    response = await async_send(flask_app, "http://testserver/")
    assert await response.aread() == b"Hello World"
    response = await async_send(flask_app, "http://testserver/stream")
    assert [chunk async for chunk in response.aiter_raw()] == [b"a", b"z"]
