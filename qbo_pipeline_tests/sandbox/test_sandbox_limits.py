"""Intuit's per-company throttles, on a manual clock so the windows are exact."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from qbo_pipeline.sandbox import app as sandbox_app
from qbo_pipeline.sandbox.clock import ManualClock
from qbo_pipeline_tests.fixtures_sandbox import fault_code, sandbox_tokens


def _server(sandbox_factory, **options):
    clock = ManualClock()
    return sandbox_factory(clock=clock, **options), clock


def test_ten_requests_per_second(sandbox_factory):
    server, clock = _server(sandbox_factory)
    with server.client() as qbo:
        assert [qbo.get("/preferences").status_code for _ in range(10)] == [200] * 10
        refused = qbo.get("/preferences")
        assert refused.status_code == 429 and fault_code(refused) == "3001"
        assert refused.json()["Fault"]["type"] == "SERVICE"
        clock.advance(1.0)
        assert qbo.get("/preferences").status_code == 200


def test_500_requests_per_minute_batches_included(sandbox_factory):
    server, clock = _server(sandbox_factory)
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Term"}]}
    with server.client() as qbo:
        statuses = []
        for second in range(50):
            statuses.append(qbo.post("/batch", json=batch).status_code if second < 30 else
                            qbo.get("/preferences").status_code)
            statuses += [qbo.get("/preferences").status_code for _ in range(9)]
            clock.advance(1.0)
        assert statuses == [200] * 500
        clock.advance(5.0)  # 55 s after the first request: still inside its minute
        assert qbo.get("/preferences").status_code == 429
        clock.advance(5.0)  # the first second's requests leave the window
        assert qbo.get("/preferences").status_code == 200
    assert server.admin("GET", "/faults/stats")["limit_per_minute"] == 1


def test_40_batch_requests_per_minute(sandbox_factory):
    server, clock = _server(sandbox_factory)
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Term"}]}
    with server.client() as qbo:
        for _ in range(8):
            assert [qbo.post("/batch", json=batch).status_code for _ in range(5)] == [200] * 5
            clock.advance(1.0)
        refused = qbo.post("/batch", json=batch)
        assert refused.status_code == 429
        assert qbo.get("/preferences").status_code == 200  # single requests still pass
        clock.advance(60.0)
        assert qbo.post("/batch", json=batch).status_code == 200
    assert server.admin("GET", "/faults/stats")["limit_batch_per_minute"] == 1


class _HeldLatency:
    """Stands in for ``asyncio`` inside the sandbox app: its latency step (the one ``asyncio.sleep``
    there) waits until the test opens ``gate``, so admitted requests stay in flight for as long as
    the test needs, however slowly a loaded machine delivers the other requests."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def __getattr__(self, name: str):
        return getattr(asyncio, name)

    async def sleep(self, _seconds: float) -> None:
        give_up = time.monotonic() + 30  # a sandbox that never refuses must not hang the test
        while not self.gate.is_set() and time.monotonic() < give_up:
            await asyncio.sleep(0.005)


def test_ten_concurrent_requests(sandbox_factory, monkeypatch):
    held = _HeldLatency()
    monkeypatch.setattr(sandbox_app, "asyncio", held)
    server, _ = _server(sandbox_factory, faults={"latency_ms": 600})
    token = server.tokens()["access_token"]

    def call(_):
        return httpx.get(f"{server.url}/v3/company/{server.realm}/preferences",
                         headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = [pool.submit(call, n) for n in range(12)]
        # Admitted requests are held in the sandbox; only refused ones can answer before the gate opens.
        wait_until = time.monotonic() + 30
        while sum(answer.done() for answer in answers) < 2 and time.monotonic() < wait_until:
            time.sleep(0.01)
        early = sorted(answer.result() for answer in answers if answer.done())
        held.gate.set()
        statuses = [answer.result() for answer in answers]
    assert early == [429, 429]
    assert statuses.count(200) == 10 and statuses.count(429) == 2
    assert server.admin("GET", "/faults/stats")["limit_concurrent"] == 2


def test_time_scale_shrinks_the_windows(sandbox_factory):
    server, clock = _server(sandbox_factory, time_scale=10.0)
    with server.client() as qbo:
        assert [qbo.get("/preferences").status_code for _ in range(11)] == [200] * 10 + [429]
        clock.advance(0.1)  # a tenth of a second is a "second" at scale 10
        assert qbo.get("/preferences").status_code == 200


def test_limits_are_per_company(sandbox_factory):
    server, _ = _server(sandbox_factory)
    with server.client() as qbo:
        for _ in range(10):
            qbo.get("/preferences")
        assert qbo.get("/preferences").status_code == 429
    other = server.admin("POST", "/companies", {})["realm"]
    token = sandbox_tokens(server.url, realm=other)["access_token"]
    answer = httpx.get(f"{server.url}/v3/company/{other}/preferences", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200


def test_limits_can_be_switched_off(sandbox_factory):
    server, _ = _server(sandbox_factory, enforce_limits=False)
    with server.client() as qbo:
        assert {qbo.get("/preferences").status_code for _ in range(30)} == {200}
