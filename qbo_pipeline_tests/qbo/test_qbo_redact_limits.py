"""Secrets never reach log lines; the limiter keeps each window and the in-flight count."""

from __future__ import annotations

import logging
import threading
import time

from qbo_pipeline.qbo import redact
from qbo_pipeline.qbo.environments import MINOR_VERSION, api_base_url, app_url, discovery_url
from qbo_pipeline.qbo.limits import Limits, RateLimiter


def test_log_filter_masks_registered_and_shaped_secrets(caplog):
    redact.register_secret("opaque-access-value-123")
    logger = logging.getLogger("qbo_pipeline.export")
    redact.install("qbo_pipeline.export")
    with caplog.at_level(logging.INFO, logger="qbo_pipeline.export"):
        logger.info("token %s and %s", "opaque-access-value-123", "Bearer abcdefghijklmnop")
        logger.info("body refresh_token=RT1-123-secretsecret&x=1")
    text = caplog.text
    assert "opaque-access-value-123" not in text and "abcdefghijklmnop" not in text
    assert "secretsecret" not in text and text.count(redact.MASK) >= 3


def test_redaction_keeps_qbo_error_codes_and_masks_authorization_codes():
    # QBO's throttle message carries errorCode=003001: a diagnosis, not a secret
    assert redact.redact("message=ThrottleExceeded; errorCode=003001; statusCode=429") == (
        "message=ThrottleExceeded; errorCode=003001; statusCode=429")
    assert redact.redact("GET /callback?code=AB12345678&state=x") == f"GET /callback?code={redact.MASK}&state=x"
    assert "Q0123456789abcdef" not in redact.redact('{"code": "Q0123456789abcdef"}')


def test_environments():
    assert MINOR_VERSION == 75
    assert api_base_url("production") == "https://quickbooks.api.intuit.com"
    assert api_base_url("local", "http://127.0.0.1:9/") == "http://127.0.0.1:9"
    assert discovery_url("local", "http://h:1").endswith("/.well-known/openid_configuration")
    assert "sandbox" in discovery_url("sandbox")
    assert app_url("production", None, "Invoice", "12") == "https://app.qbo.intuit.com/app/invoice?txnId=12"
    assert app_url("sandbox", None, "Invoice", "1").startswith("https://app.sandbox.qbo.intuit.com/app/invoice")
    assert app_url("local", "http://h:1", "Customer", "5") == "http://h:1/app/customerdetail?nameId=5"


def test_limiter_per_second_window_and_concurrency():
    limiter = RateLimiter(Limits(per_minute=1000, per_second=5, concurrent=2, batches_per_minute=3), time_scale=4)
    in_flight, peak, lock = [0], [0], threading.Lock()
    stamps: list[float] = []

    def call() -> None:
        with limiter.slot():
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
                stamps.append(time.monotonic())
            time.sleep(0.01)
            with lock:
                in_flight[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] <= 2
    stamps.sort()
    window = 1 / 4
    for i in range(len(stamps) - 5):  # never 6 admissions inside one (scaled) second
        assert stamps[i + 5] - stamps[i] >= window * 0.99
    assert limiter.admitted == 12


def test_limiter_batch_window_and_pause():
    limiter = RateLimiter(Limits(batches_per_minute=2), time_scale=600)  # a minute = 0.1 s
    for _ in range(2):
        with limiter.slot(batch=True):
            pass
    assert not limiter.batch_room()
    start = time.monotonic()
    with limiter.slot(batch=True):
        pass
    assert time.monotonic() - start >= 0.08
    limiter.pause(0.1)
    start = time.monotonic()
    with limiter.slot():
        pass
    assert time.monotonic() - start >= 0.09
    assert Limits().writes_per_minute_ceiling == 1660


def test_batch_reservations_and_throttle_pause_escalation():
    limiter = RateLimiter(Limits(batches_per_minute=2), time_scale=60)  # a minute = 1 s
    assert limiter.reserve_batch() and limiter.reserve_batch()
    assert not limiter.reserve_batch() and not limiter.batch_room()
    with limiter.slot(batch=True):  # consumes a reservation, fills the window
        pass
    assert not limiter.reserve_batch()
    limiter.cancel_batch_reservation()  # the second claim is given back: one place free again
    assert limiter.batch_room() and limiter.reserve_batch() and not limiter.reserve_batch()
    pauses = [limiter.throttle_pause() for _ in range(5)]
    assert pauses[0] == pauses[1] == pauses[2] and pauses[3] == 2 * pauses[0] and pauses[4] == 4 * pauses[0]
    assert pauses[0] <= 1 / 60 * 1.01 + 0.03 and limiter.throttled == 5
