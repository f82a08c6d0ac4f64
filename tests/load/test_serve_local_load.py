"""A bounded load test of `serve-local` on loopback: 2,000 requests, 50 at a time, 10% throttled by the model."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from nova_pipeline.local.api_server import local_api_environment, make_server
from nova_pipeline.local.simulator import SimulatorSettings

REQUESTS = 2000
CONCURRENCY = 50


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_no_5xx_and_no_lost_or_duplicated_responses_under_load() -> None:
    with local_api_environment(SimulatorSettings(throttle_rate=0.1)) as (handler, simulator):
        server = make_server(handler, 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.server_address[1]
        local = threading.local()

        def call(index: int) -> tuple[int, int, str]:
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            body = json.dumps({"input": f"ticket {index}: I was charged twice for my Pro plan"})
            local.connection.request("POST", "/v1/generate", body=body, headers={"Content-Type": "application/json"})
            response = local.connection.getresponse()
            payload = json.loads(response.read())
            return index, response.status, response.getheader("Retry-After") or payload.get("output", "")

        try:
            with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
                results = list(pool.map(call, range(REQUESTS)))
        finally:
            server.shutdown()
            server.server_close()

    statuses = Counter(status for _, status, _ in results)
    assert sorted(index for index, _, _ in results) == list(range(REQUESTS))  # none lost, none duplicated
    assert server.handled == REQUESTS  # type: ignore[attr-defined]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[429] == sum(1 for s, o, _ in simulator.calls if o == "Converse") - statuses[200]
    assert statuses[429] == pytest.approx(REQUESTS * 0.1, abs=1)
    assert all(extra == "2" for _, status, extra in results if status == 429)
    assert all(extra == "billing" for _, status, extra in results if status == 200)
