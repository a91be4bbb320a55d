"""The loopback server every client is measured against: one nginx worker, pinned to its own core.

nginx serves a 13-byte body, a 256 MiB file, a sink for uploads, HTTPS with a throwaway CA
(trustme), and HTTP/2 over TLS and in cleartext (h2c, prior knowledge). The 256 MiB file and the
certificates are made on first use in a cache directory; the nginx config, pid file and logs live
in a temporary directory that is removed when the server stops.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DOWNLOAD_NAME",
    "DOWNLOAD_SIZE",
    "SMALL_BODY",
    "UPLOAD_SIZE",
    "Server",
    "default_cache_dir",
    "find_nginx",
    "process_cpu_seconds",
]

SMALL_BODY = b"Hello, world!"
DOWNLOAD_SIZE = 256 * 1024 * 1024
DOWNLOAD_NAME = "256MiB.bin"
UPLOAD_SIZE = 128 * 1024 * 1024

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The upload sink reads each body into one buffer of up to 200 MiB. By default glibc maps such
# a buffer afresh for every request and nginx spends more CPU faulting in pages than receiving
# bytes (about 1.3 s per GiB, as much as the fastest Python client spends sending). Served from
# a heap that is never trimmed, the buffer is reused and the sink costs about 0.25 s per GiB.
_GLIBC_TUNABLES = (
    "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184:glibc.malloc.hugetlb=1"
)
_ECHO_MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/etc/nginx/modules")
_NGINX_CANDIDATES = (
    "nginx",
    "/usr/sbin/nginx",
    "/usr/local/sbin/nginx",
    "/usr/local/nginx/sbin/nginx",
)

_CONFIG = """\
{modules}
{user}
worker_processes 1;
{affinity}
daemon off;
master_process on;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
worker_rlimit_nofile 65536;

events {{
    worker_connections 16384;
    multi_accept on;
}}

http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 600s;
    keepalive_requests 100000000;
    http2_max_concurrent_streams 128;
    lingering_time 600s;
    lingering_timeout 60s;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    log_format upload '$request_length $status';

    server {{
        listen 127.0.0.1:{http_port} backlog=4096;
        listen 127.0.0.1:{https_port} ssl backlog=4096;
        listen 127.0.0.1:{h2_port} ssl http2 backlog=4096;
        listen 127.0.0.1:{h2c_port} http2 backlog=4096;
        server_name localhost;

        location = /small {{
            default_type text/plain;
            return 200 "{small}";
        }}
        location /files/ {{
            alias {files}/;
        }}
        # The echo module reads the whole body (into memory: the buffer is larger than any
        # upload, so no temp file) before answering. A plain `return 200` would answer at once
        # and drop the body in the background, letting a client that reads the response while
        # it writes stop early. The harness checks $request_length after every upload.
        location = /upload {{
            client_max_body_size 0;
            client_body_buffer_size 160m;
            access_log {run}/upload.log upload;
            default_type text/plain;
            echo_read_request_body;
            echo -n "ok";
        }}
    }}
}}
"""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "heron-bench"


def find_nginx() -> str | None:
    for candidate in _NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, read from /proc (10 ms resolution)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # After the ")" closing the command name: fields[11] is utime, fields[12] is stime.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _echo_module() -> str:
    """The `load_module` line for the echo module (Debian: libnginx-mod-http-echo)."""
    for directory in _ECHO_MODULE_DIRS:
        path = Path(directory) / "ngx_http_echo_module.so"
        if path.exists():
            return f"load_module {path};"
    raise RuntimeError(
        "nginx's echo module (ngx_http_echo_module.so) was not found; the upload sink needs it. "
        "Install it with: apt-get install libnginx-mod-http-echo (it comes with nginx-light)."
    )


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _ensure_download_file(files: Path) -> None:
    path = files / DOWNLOAD_NAME
    if path.exists() and path.stat().st_size == DOWNLOAD_SIZE:
        return
    files.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    block = os.urandom(1024 * 1024)
    with open(partial, "wb") as f:
        for _ in range(DOWNLOAD_SIZE // len(block)):
            f.write(block)
    partial.replace(path)


def _ensure_certificates(cache: Path) -> tuple[Path, Path, Path]:
    ca_path, cert_path, key_path = cache / "ca.pem", cache / "server.pem", cache / "server.key"
    if not (ca_path.exists() and cert_path.exists() and key_path.exists()):
        import trustme

        ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
        leaf = ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.ECDSA)
        cache.mkdir(parents=True, exist_ok=True)
        ca.cert_pem.write_to_path(str(ca_path))
        leaf.private_key_pem.write_to_path(str(key_path))
        with open(cert_path, "wb") as f:
            for blob in leaf.cert_chain_pems:
                f.write(blob.bytes())
    return ca_path, cert_path, key_path


@dataclass
class Server:
    """A running nginx. Use `Server.start(...)` and `stop()` (or `with`)."""

    nginx: str
    run_dir: Path
    ca_path: Path
    http_port: int
    https_port: int
    h2_port: int
    h2c_port: int
    process: subprocess.Popen[bytes]
    worker_pid: int
    _upload_log_offset: int = 0

    @classmethod
    def start(cls, nginx: str, cache_dir: Path, server_cpu: int | None) -> Server:
        _ensure_download_file(cache_dir / "files")
        ca_path, cert_path, key_path = _ensure_certificates(cache_dir / "tls")
        run_dir = Path(tempfile.mkdtemp(prefix="heron-bench-nginx-"))
        http_port, https_port, h2_port, h2c_port = _free_ports(4)
        affinity = ""
        if server_cpu is not None:
            affinity = f"worker_cpu_affinity {1 << server_cpu:b};"
        config = _CONFIG.format(
            modules=_echo_module(),
            # As root, nginx would run its worker as "nobody", which cannot read a cache
            # directory under /root; keep the worker as the user running the benchmark.
            user="user root;" if os.geteuid() == 0 else "",
            affinity=affinity,
            run=run_dir,
            cert=cert_path,
            key=key_path,
            files=cache_dir / "files",
            small=SMALL_BODY.decode(),
            http_port=http_port,
            https_port=https_port,
            h2_port=h2_port,
            h2c_port=h2c_port,
        )
        (run_dir / "nginx.conf").write_text(config)
        env = {**os.environ, "GLIBC_TUNABLES": _GLIBC_TUNABLES}
        process = subprocess.Popen(
            [nginx, "-p", str(run_dir), "-e", str(run_dir / "error.log"), "-c", "nginx.conf"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            for port in (http_port, https_port, h2_port, h2c_port):
                _wait_for_port(port, process, run_dir)
            worker_pid = _worker_pid(process.pid)
            _prime_upload_sink(http_port)
        except BaseException:
            _terminate(process)
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        server = cls(
            nginx, run_dir, ca_path, http_port, https_port, h2_port, h2c_port, process, worker_pid
        )
        server.wait_for_uploads(2)  # the priming uploads
        return server

    def urls(self) -> dict[str, str]:
        """Base URLs by name, as the workers receive them."""
        return {
            "http": f"http://127.0.0.1:{self.http_port}",
            "https": f"https://localhost:{self.https_port}",
            "h2": f"https://localhost:{self.h2_port}",
            "h2c": f"http://127.0.0.1:{self.h2c_port}",
        }

    def version(self) -> str:
        result = subprocess.run([self.nginx, "-v"], capture_output=True, text=True, check=False)
        return result.stderr.strip().removeprefix("nginx version: ")

    def take_upload_log(self) -> list[int]:
        """The $request_length of each upload logged since the last call."""
        path = self.run_dir / "upload.log"
        if not path.exists():
            return []
        with open(path, "rb") as f:
            f.seek(self._upload_log_offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._upload_log_offset += len(complete)
        return [int(line.split()[0]) for line in complete.splitlines() if line.strip()]

    def wait_for_uploads(self, count: int, timeout: float = 5.0) -> list[int]:
        """The next `count` upload log entries (nginx writes each just after its response)."""
        lengths: list[int] = []
        deadline = time.monotonic() + timeout
        while len(lengths) < count and time.monotonic() < deadline:
            lengths += self.take_upload_log()
            if len(lengths) < count:
                time.sleep(0.02)
        return lengths

    def stop(self) -> None:
        _terminate(self.process)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], run_dir: Path) -> None:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (run_dir / "error.log").read_text() if (run_dir / "error.log").exists() else ""
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"nginx exited with code {process.returncode}: {stderr}{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within 10 s")


def _prime_upload_sink(port: int) -> None:
    """One upload with Content-Length and one chunked, so that the sink's heap is grown."""
    block = bytes(1024 * 1024)
    frame = b"%x\r\n%b\r\n" % (len(block), block)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n"
        sock.sendall(head % UPLOAD_SIZE)
        for _ in range(UPLOAD_SIZE // len(block)):
            sock.sendall(block)
        _read_response(sock)
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(UPLOAD_SIZE // len(block)):
            sock.sendall(frame)
        sock.sendall(b"0\r\n\r\n")
        _read_response(sock)


def _read_response(sock: socket.socket) -> None:
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n"):  # echo's body "ok" comes chunked
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(
                f"nginx closed the connection while priming the upload sink: {data!r}"
            )
        data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"nginx refused the priming upload: {data[:100]!r}")


def _worker_pid(master_pid: int) -> int:
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master_pid:
                return int(entry)
        time.sleep(0.05)
    raise RuntimeError(f"found no nginx worker process under master {master_pid}")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # fast shutdown: the master stops its worker and exits
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
