"""A tour of heron: every example from the project's seed notes, run against a local app.

Run it with ``python3 scripts/tour.py``. Nothing leaves this machine: the requests go to
``TourApp``, a small httpbin-like ASGI application defined below and called in-process through
``app=``, and (with Flask and FastAPI installed, ``pip install -e ".[tour]"``) to the seed
notes' own Flask and FastAPI examples.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import heron

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

POKEMON = ["bulbasaur", "ivysaur", "venusaur", "charmander", "charmeleon", "charizard"]


class TourApp:
    """An httpbin-like ASGI app: enough endpoints for the seed notes' examples."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        status, extra_headers, payload = self.route(scope, path, headers, body)
        raw = json.dumps(payload, indent=2).encode()
        response_headers = [(b"content-type", b"application/json"), *extra_headers]
        response_headers.append((b"content-length", str(len(raw)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": raw})

    def route(
        self, scope: Scope, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        query = dict(parse_qsl(scope["query_string"].decode()))
        echo = {"args": query, "headers": headers, "url": path}
        if path in ("/get", "/delete", "/put", "/post", "/patch"):
            if path.strip("/").upper() != scope["method"] and scope["method"] not in (
                "HEAD",
                "OPTIONS",
            ):
                return 405, [], {"error": "method not allowed"}
            content_type = headers.get("content-type", "")
            if content_type.startswith("application/json"):
                echo["json"] = json.loads(body)
            elif content_type.startswith("application/x-www-form-urlencoded"):
                echo["form"] = dict(parse_qsl(body.decode()))
            return 200, [], echo
        if path == "/headers":
            return 200, [], {"headers": headers}
        if path == "/cookies/set":
            cookies = [(b"set-cookie", f"{k}={v}; Path=/".encode()) for k, v in query.items()]
            return 302, [(b"location", b"/cookies"), *cookies], {}
        if path == "/cookies":
            jar = SimpleCookie(headers.get("cookie", ""))
            return 200, [], {"cookies": {k: m.value for k, m in jar.items()}}
        if path in ("/user", "/basic-auth"):
            expected = "Basic " + base64.b64encode(b"my_user:password123").decode()
            if headers.get("authorization") != expected:
                return 401, [(b"www-authenticate", b'Basic realm="tour"')], {"authed": False}
            return 200, [], {"authenticated": True, "user": "my_user"}
        if path.startswith("/api/v2/pokemon/"):
            number = int(path.rsplit("/", 1)[1])
            return 200, [], {"id": number, "name": POKEMON[(number - 1) % len(POKEMON)]}
        return 404, [], {"error": f"no route for {path}"}


def section(title: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}== {title}{plain}")


def show(label: str, value: object) -> None:
    text = textwrap.shorten(str(value), width=100, placeholder=" ...")
    print(f"  {label:<34} {text}")


def tour_models() -> None:
    section("The models: URLs, headers, requests and responses")
    url = heron.URL("https://user:secret@example.org:8443/a b/../c?q=heron#top")
    show("URL (password hidden in repr)", repr(url))
    show("url.host / port / path", (url.host, url.port, url.path))
    show("url.join('../d?x=1')", url.join("../d?x=1"))
    show("IDNA host", heron.URL("https://bücher.example/").raw_host)
    headers = heron.Headers({"Content-Type": "text/plain", "Authorization": "Bearer t0ken"})
    show("Headers (Authorization masked)", repr(headers))
    request = heron.Request("POST", "https://example.org/items", json={"name": "heron"})
    show("Request", request)
    show("request.headers['content-type']", request.headers["content-type"])
    show("request.content", request.content)
    response = heron.Response(
        200, headers={"Content-Type": "text/plain; charset=utf-8"}, content="héron ✓".encode()
    )
    show("Response / .encoding / .text", (response, response.encoding, response.text))


def tour_client_basics(client: heron.Client) -> None:
    section("Basic usage (the requests-style API)")
    r = client.get("https://httpbin.local/user", auth=("my_user", "password123"))
    show("GET /user with auth -> status_code", r.status_code)
    show("r.content", r.content)
    show("r.headers['content-type']", r.headers["content-type"])
    show("r.encoding", r.encoding)
    show("r.json()", r.json())

    section("CRUD operations")
    for method, path in [
        ("GET", "/get"),
        ("POST", "/post"),
        ("PUT", "/put"),
        ("DELETE", "/delete"),
        ("HEAD", "/get"),
        ("OPTIONS", "/get"),
    ]:
        data = {"key": "value"} if method in ("POST", "PUT") else None
        r = client.request(method, f"https://httpbin.local{path}", data=data)
        form = r.json().get("form") if method in ("POST", "PUT") else ""
        show(f"{method} {path}", f"{r.status_code} {r.reason_phrase} {form or ''}")

    section("Query parameters, headers, JSON")
    r = client.get("https://httpbin.local/get", params={"key1": "value1", "key2": "value2"})
    show("params -> URL", r.url)
    r = client.get("https://httpbin.local/get", headers={"user-agent": "my-app/0.0.1"})
    show("custom User-Agent echoed", r.json()["headers"]["user-agent"])
    data = {"integer": 123, "boolean": True, "list": ["a", "b", "c"]}
    r = client.post("https://httpbin.local/post", json=data)
    show("json= echoed back", r.json()["json"])

    section("Cookies")
    r = client.get("https://httpbin.local/cookies/set?chocolate=chip", follow_redirects=True)
    show("r.cookies / client.cookies", (dict(r.history[0].cookies), dict(client.cookies)))
    show("redirect history", [str(h.url) for h in r.history])
    show("server saw cookies", r.json()["cookies"])

    section("Authentication and timeouts")
    r = client.get("https://httpbin.local/basic-auth", auth=("my_user", "password123"))
    show("Basic auth ->", r.json())
    r = client.get("https://httpbin.local/basic-auth", auth=("my_user", "wrong"))
    show("wrong password ->", r.status_code)
    r = client.get("https://httpbin.local/get", timeout=1)
    show("timeout=1 carried on the request", r.request.extensions["timeout"])


def tour_shared_config(app: TourApp) -> None:
    section("A Client sharing configuration across requests")
    headers = {"User-Agent": "my-app/0.0.1"}
    with heron.Client(app=app, headers=headers, base_url="https://httpbin.local") as client:
        r = client.get("/headers")
        show("User-Agent from client config", r.json()["headers"]["user-agent"])
        r = client.get("/get", headers={"X-Custom": "value"})
        show("per-request header merged", r.json()["headers"]["x-custom"])


async def tour_async(app: TourApp) -> None:
    section("AsyncClient: 150 requests, one at a time vs gathered")

    async def get_pokemon(client: heron.AsyncClient, url: str) -> str:
        resp = await client.get(url)
        name: str = resp.json()["name"]
        return name

    async with heron.AsyncClient(app=app, base_url="https://pokeapi.local") as client:
        start = time.perf_counter()
        names = [await get_pokemon(client, f"/api/v2/pokemon/{n}") for n in range(1, 151)]
        sequential = time.perf_counter() - start

        start = time.perf_counter()
        tasks = [
            asyncio.create_task(get_pokemon(client, f"/api/v2/pokemon/{n}")) for n in range(1, 151)
        ]
        gathered = await asyncio.gather(*tasks)
        concurrent = time.perf_counter() - start
    show("awaited one by one", f"{len(names)} pokemon in {sequential * 1000:.1f} ms")
    show("asyncio.gather", f"{len(gathered)} pokemon in {concurrent * 1000:.1f} ms")
    show("first three", gathered[:3])


def tour_flask() -> None:
    section("Web app testing: Flask through app= (WSGI)")
    try:
        from flask import Flask
    except ImportError:
        show("skipped", 'Flask is not installed: pip install -e ".[tour]"')
        return
    app = Flask(__name__)

    @app.route("/")
    def hello() -> str:
        return "Hello World"

    with heron.Client(app=app, base_url="http://testserver") as client:
        r = client.get("/")
        assert r.status_code == 200
        assert r.text == "Hello World"
        show("GET / ->", f"{r.status_code} {r.text!r}")


async def tour_fastapi() -> None:
    section("Web app testing: FastAPI through app= (ASGI)")
    try:
        from fastapi import FastAPI
    except ImportError:
        show("skipped", 'FastAPI is not installed: pip install -e ".[tour]"')
        return
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"message": "Tomato"}

    async with heron.AsyncClient(app=app, base_url="http://test") as ac:
        response = await ac.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "Tomato"}
    show("GET / ->", f"{response.status_code} {response.json()}")


class TourHandler(http.server.BaseHTTPRequestHandler):
    """A small HTTP/1.1 server with keep-alive, for the part of the tour that uses TCP."""

    protocol_version = "HTTP/1.1"
    # Buffer each response so its head and body leave in one segment: written separately,
    # Nagle's algorithm and delayed ACKs would add 40 ms to every request.
    wbufsize = 65536

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "peer": self.client_address[1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        received = self.rfile.read(length)
        body = json.dumps({"received_bytes": len(received)}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the tour's output readable


def _unused_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def tour_network() -> None:
    section("Over TCP: a real server on 127.0.0.1, keep-alive connections, timeouts")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TourHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        r = heron.get(f"{base}/one-shot")
        show("heron.get over TCP", f"{r.status_code} {r.http_version} {r.json()}")
        with heron.Client(base_url=base) as client:
            ports = {client.get(f"/request/{n}").json()["peer"] for n in range(5)}
            show("5 requests on one Client", f"{len(ports)} TCP connection(s) used")
            r = client.post("/upload", content=b"x" * 1_000_000)
            show("1 MB upload", r.json())
        with heron.Client(base_url=base, timeout=heron.Timeout(2.0, connect=1.0)) as client:
            show("timeouts on the request", client.build_request("GET", "/").extensions)
        closed_port = _unused_port()
        try:
            heron.get(f"http://127.0.0.1:{closed_port}/", timeout=1.0)
        except heron.ConnectError as exc:
            show("a refused connection ->", f"{type(exc).__name__}: {exc}")
    finally:
        server.shutdown()
        server.server_close()


def main() -> int:
    print(f"heron {heron.__version__}: a tour against an in-process app (no network needed)")
    app = TourApp()
    tour_models()
    with heron.Client(app=app) as client:
        tour_client_basics(client)
    tour_shared_config(app)
    asyncio.run(tour_async(app))
    tour_flask()
    asyncio.run(tour_fastapi())
    tour_network()
    print("\nThe tour is complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
