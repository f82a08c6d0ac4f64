"""serve-local answers a body that is not UTF-8 as API Gateway + the function do: a 400, never a dropped connection."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from nova_pipeline.local.api_server import local_api_environment, make_server


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_invalid_utf8_in_a_body_is_a_400() -> None:
    with local_api_environment() as (handler, _):
        server = make_server(handler, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
            connection.request(
                "POST", "/v1/generate", body=b'{"input": "caf\xe9 \xff"}', headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            status, body = response.status, json.loads(response.read())
            # the connection stays usable
            connection.request("GET", "/v1/health")
            health = connection.getresponse()
            health_status = health.status
            health.read()
        finally:
            server.shutdown()
            server.server_close()

    assert (status, body["message"]) == (400, "body: not valid UTF-8 text (send JSON encoded as UTF-8)")
    assert health_status == 200
