"""The engine's HTTP/WebSocket API against a hostile peer on loopback: floods of half-open and idle connections,
event streams left open, failed keys, endless bodies, test-only jobs, malformed paths. Real sockets on 127.0.0.1."""

from __future__ import annotations

import json
import selectors
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.service.api.auth import FailureBook
from engine.service.api.connections import Limits
from engine.service.api.server import MAX_BODY, MAX_STREAMS
from engine.service.api.wire import TEST_JOBS_ENV
from tests.engine.service.conftest import KEY, engine_server

AUTH = {"Authorization": "Bearer " + KEY.decode()}
RAW_AUTH = b"Authorization: Bearer " + KEY + b"\r\n"


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _raw(port: int, data: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], Any]:
    """Send ``data`` as it is (no URL clean-up), read the answer until the server closes: (status, headers, JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        while chunk := s.recv(65536):
            buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.lower(), v) for k, v in (line.split(": ", 1) for line in lines[1:]))
    return int(lines[0].split()[1]), headers, json.loads(body)


def _closed_within(s: socket.socket, limit_s: float) -> tuple[float | None, bytes]:
    """Seconds until the server closed ``s`` (None if it did not within ``limit_s``), and what it sent first."""
    t0, got = time.monotonic(), b""
    s.settimeout(0.05)
    while time.monotonic() - t0 < limit_s:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0, got
        if not chunk:
            return time.monotonic() - t0, got
        got += chunk
    return None, got


@pytest.fixture
def many_files():
    """Room for a few thousand sockets in this process (client and server ends)."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 6000
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_half_open_and_idle_floods_never_keep_the_key_holder_waiting(tmp_path: Path, many_files: None) -> None:
    """1,000 connections that send half a request and 1,000 that send nothing, opened in waves while the key
    holder asks for the status between waves, on a kept-alive connection and on fresh ones: every answer within
    1 s."""
    with engine_server(tmp_path / "scratch") as (url, server):
        port = _port(url)
        client = httpx.Client(base_url=url, headers=AUTH, timeout=5)
        hostile: list[socket.socket] = []
        took: list[float] = []

        def ask(fresh: bool) -> None:
            t0 = time.perf_counter()
            r = httpx.get(f"{url}/v1/status", headers=AUTH, timeout=5) if fresh else client.get("/v1/status")
            took.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text

        try:
            for wave in range(20):
                for _ in range(50):
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                    hostile.append(s)
                    hostile.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                ask(fresh=wave % 2 == 0)
            for _ in range(10):
                ask(fresh=True)
                ask(fresh=False)
            table = server.connections
            assert len(hostile) == 2000 and len(table) <= table.limits.most
            assert max(took) < 1.0, f"slowest answer {max(took):.3f} s"
            print(f"\n2,000 hostile connections: {len(took)} answers, median {sorted(took)[len(took) // 2] * 1e3:.1f} "
                  f"ms, slowest {max(took) * 1e3:.1f} ms; {table.dropped} hostile connections closed to make room")
        finally:
            client.close()
            for s in hostile:
                s.close()


def test_silent_half_sent_and_dribbling_connections_are_closed_at_their_deadlines(tmp_path: Path) -> None:
    with engine_server(tmp_path / "scratch", limits=Limits(header_s=0.6, idle_s=0.4)) as (url, _server):
        port = _port(url)
        silent = socket.create_connection(("127.0.0.1", port))
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")
        kept = socket.create_connection(("127.0.0.1", port))
        kept.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n" + RAW_AUTH + b"\r\n")
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        dribble = socket.create_connection(("127.0.0.1", port))
        dribble.settimeout(0.05)
        t0, closed = time.monotonic(), None
        for byte in b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:  # one byte every 50 ms
            try:
                dribble.sendall(bytes([byte]))
                if dribble.recv(65536) == b"":
                    closed = time.monotonic() - t0
                    break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = time.monotonic() - t0
                break
        assert closed is not None and closed < 1.2, closed  # the header deadline is not extended by more bytes
        for s, limit in ((silent, 0.4), (half, 0.6), (kept, 0.4)):
            after, said = _closed_within(s, 3.0)
            assert after is not None and after < limit + 0.6, (limit, after)
            s.close()
            if s is half:
                assert said.startswith(b"HTTP/1.1 408") and b'"detail"' in said, said
        dribble.close()
        assert httpx.get(f"{url}/v1/status", headers=AUTH).status_code == 200


@pytest.mark.slow
def test_with_the_default_limits_no_hostile_connection_outlives_the_header_deadline(tmp_path: Path,
                                                                                   many_files: None) -> None:
    """1,000 half-open and 1,000 silent connections: the server has closed every one of them once the header
    deadline has passed (uvicorn alone held them for as long as the peer liked)."""
    limits = Limits()
    with engine_server(tmp_path / "scratch") as (url, _server):
        port, hostile = _port(url), []
        try:
            for _ in range(1000):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                hostile.append(s)
                hostile.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            t0 = time.monotonic()
            watch = selectors.DefaultSelector()  # select() cannot take descriptors past 1023
            for s in hostile:
                watch.register(s, selectors.EVENT_READ)
            open_ = set(hostile)
            while open_ and time.monotonic() - t0 < limits.header_s + 2:
                for key, _ in watch.select(0.5):
                    try:
                        gone = key.fileobj.recv(65536) == b""
                    except ConnectionResetError:
                        gone = True
                    if gone:
                        watch.unregister(key.fileobj)
                        open_.discard(key.fileobj)
            watch.close()
            assert not open_, f"{len(open_)} hostile connections still open after {limits.header_s + 2:g} s"
        finally:
            for s in hostile:
                s.close()


def test_event_streams_are_capped_and_end_when_their_clients_leave(engine_url: str) -> None:
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    ws_url = "ws" + engine_url[4:]
    r = httpx.post(f"{engine_url}/v1/jobs", headers=AUTH, json={"job": {"kind": "sleep", "steps": 600,
                                                                          "step_s": 0.05}})
    job = r.json()["job"]
    try:
        opened, refused = [], []
        t0 = time.monotonic()
        for _ in range(260):  # past their end (after=10**12): they would wait for ever
            try:
                opened.append(connect(f"{ws_url}/v1/jobs/{job}/events?after={10**12}", additional_headers=AUTH,
                                      open_timeout=5).__enter__())
            except InvalidStatus as exc:
                refused.append(exc.response)
        t1 = time.monotonic()
        assert len(opened) == MAX_STREAMS and len(refused) == 260 - MAX_STREAMS
        assert refused[0].status_code == 429 and "event streams" in json.loads(refused[0].body)["detail"]
        for ws in opened[::2]:  # half just vanish (no closing handshake), half say goodbye
            ws.socket.shutdown(socket.SHUT_RDWR)
        for ws in opened[1::2]:
            ws.__exit__(None, None, None)
        print(f"\n260 streams opened in {t1 - t0:.2f} s, closed in {time.monotonic() - t1:.2f} s")
        assert httpx.get(f"{engine_url}/v1/status", headers=AUTH, timeout=2).status_code == 200
        deadline = time.monotonic() + 2
        while True:  # the engine notices within a poll: a new stream opens and replays the job
            try:
                with connect(f"{ws_url}/v1/jobs/{job}/events?after=0", additional_headers=AUTH,
                             open_timeout=2, max_queue=None) as ws:  # unread events must not hold up the close
                    assert json.loads(ws.recv(timeout=2))["type"] == "queued"
                break
            except InvalidStatus:
                assert time.monotonic() < deadline, "the closed streams are still counted"
                time.sleep(0.05)
    finally:
        for ws in opened[::2]:
            ws.__exit__(None, None, None)
        httpx.post(f"{engine_url}/v1/jobs/{job}/cancel", headers=AUTH)
    deadline = time.monotonic() + 10
    while httpx.get(f"{engine_url}/v1/jobs/{job}", headers=AUTH).json()["state"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with connect(f"{ws_url}/v1/jobs/{job}/events?after={10**12}", additional_headers=AUTH, open_timeout=2) as ws:
        with pytest.raises(ConnectionClosed):  # past the end of a job that ended: closed at once
            ws.recv(timeout=1)


def test_the_right_key_passes_whatever_failed_before_it(engine_url: str) -> None:
    status = f"{engine_url}/v1/status"
    with httpx.Client() as http:
        same = [http.get(status, headers={"Authorization": "Bearer nope"}).status_code for _ in range(12)]
        assert same[:10] == [401] * 10 and same[10:] == [429, 429]
        assert http.get(status, headers=AUTH).status_code == 200  # same address (an SSH tunnel's), the right key
        assert http.get(status, headers={"Authorization": "Bearer nope"}).json()["detail"].startswith("too many")
        guesses = {http.get(status, headers={"Authorization": f"Bearer guess-{i}"}).status_code for i in range(30)}
        assert guesses == {401}  # each credential counts on its own
        assert http.get(status, headers=AUTH).status_code == 200
    from websockets.sync.client import connect

    with connect("ws" + engine_url[4:] + "/v1/jobs/none/events", additional_headers=AUTH, open_timeout=2) as ws:
        assert json.loads(ws.recv(timeout=2))["error"] == "no job none on this engine"


def test_the_failure_book_forgets_the_oldest_and_stays_small() -> None:
    import tracemalloc

    book = FailureBook(limit=10, window_s=60.0, size=1000)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(20_000):
        assert not book.fail(f"Bearer guess-{i}".encode(), 0.0)
    grew = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(book) == 1000 and grew < 1 << 20, grew
    assert [book.fail(b"Bearer nope", 1.0) for _ in range(11)] == [False] * 10 + [True]
    assert not book.fail(b"Bearer nope", 62.0)  # a new window


def test_a_body_is_cut_off_at_its_cap_as_it_streams_in(engine_url: str) -> None:
    """A chunked body (no Content-Length) to POST /v1/jobs, never ending: 413 arrives soon after MAX_BODY, not
    after the whole body was buffered."""
    s = socket.create_connection(("127.0.0.1", _port(engine_url)), timeout=5)
    s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n" + RAW_AUTH + b"Content-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    sent, answer = 0, b""
    heard = selectors.DefaultSelector()
    heard.register(s, selectors.EVENT_READ)
    try:
        while sent < 64 << 20:
            if heard.select(0):
                break
            s.sendall(chunk)
            sent += 0x10000
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    heard.close()
    try:
        answer = s.recv(65536)
    finally:
        s.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/json" in answer and f"over {MAX_BODY} bytes".encode() in answer
    assert sent < 24 << 20, f"{sent >> 20} MiB went in before the answer"


def test_test_jobs_are_off_unless_the_engine_turns_them_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_JOBS_ENV, raising=False)
    with engine_server(tmp_path / "scratch") as (url, _server):
        for job in ({"kind": "sleep"}, {"kind": "sleep", "crash": "exit"}):
            r = httpx.post(f"{url}/v1/jobs", headers=AUTH, json={"job": job})
            assert r.status_code == 422 and "'sleep' jobs are for the engine's tests" in r.json()["detail"]
        assert httpx.get(f"{url}/v1/jobs", headers=AUTH).json() == []


def test_every_error_is_a_json_answer(engine_url: str) -> None:
    port = _port(engine_url)
    upload = httpx.post(f"{engine_url}/v1/uploads", headers=AUTH).json()["upload"]
    sha = "0" * 64

    def put(path: str, body: bytes = b"x") -> tuple[int, dict[str, str], Any]:
        import hashlib

        return _raw(port, f"PUT /v1/uploads/{upload}/{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          f"X-SongBridge-SHA256: {hashlib.sha256(body).hexdigest()}\r\n"
                          f"Content-Length: {len(body)}\r\n".encode() + RAW_AUTH + b"\r\n" + body)

    answers = {}
    for bad in (".", "..", "a/./b", "a//b", ".hidden", "a/", "a\\b", "a/%01"):
        answers[bad] = put(bad)
        assert answers[bad][0] == 422 and "plain relative path" in answers[bad][2]["detail"], (bad, answers[bad])
    assert put("stems")[0] == 201
    answers["file in the way"] = put("stems/vocal.wav")
    assert answers["file in the way"][0] == 409
    assert put("mix/left.wav")[0] == 201
    answers["folder in the way"] = put("mix")
    assert answers["folder in the way"][0] == 409
    answers["bad digest"] = _raw(port, f"PUT /v1/uploads/{upload}/x.wav HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                       f"X-SongBridge-SHA256: {sha}\r\nContent-Length: 1\r\n".encode() + RAW_AUTH +
                                 b"\r\nx")
    assert answers["bad digest"][0] == 422
    answers["garbage"] = _raw(port, b"\x00\xff not http \r\n\r\n")
    assert answers["garbage"][0] == 400
    answers["no route"] = _raw(port, b"GET /v2/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + RAW_AUTH +
                               b"\r\n")
    assert answers["no route"][0] == 404
    answers["method"] = _raw(port, b"DELETE /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + RAW_AUTH +
                             b"\r\n")
    assert answers["method"][0] == 405
    answers["too big"] = _raw(port, b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n" + RAW_AUTH +
                              b"\r\n")
    assert answers["too big"][0] == 413
    answers["no key"] = _raw(port, b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answers["no key"][0] == 401
    for what, (_status, headers, body) in answers.items():
        assert headers["content-type"] == "application/json" and isinstance(body["detail"], str), what
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as refused:
        connect("ws" + engine_url[4:] + "/v1/jobs/x/events", additional_headers={"Authorization": "Bearer no"},
                open_timeout=2)
    assert refused.value.response.status_code == 401 and json.loads(refused.value.response.body)["detail"]
    assert httpx.get(f"{engine_url}/v1/status", headers=AUTH).status_code == 200  # and it still serves
