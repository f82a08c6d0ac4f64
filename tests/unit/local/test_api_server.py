"""serve-local answers as API Gateway + the function do: a body that is not UTF-8 is a 400, never a dropped
connection; an unknown route is a 404 and a wrong method a 405, whatever the method."""

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


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_unknown_routes_are_404_and_wrong_methods_405_for_every_method() -> None:
    answers: dict[tuple[str, str], tuple[int, str | None]] = {}
    with local_api_environment() as (handler, _):
        server = make_server(handler, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
            for method, path in [("DELETE", "/v1/generate"), ("PUT", "/v1/health"), ("PATCH", "/v2/nothing"),
                                 ("GET", "/v1/nothing")]:  # fmt: skip
                connection.request(method, path)
                response = connection.getresponse()
                response.read()
                answers[(method, path)] = (response.status, response.getheader("Allow"))
        finally:
            server.shutdown()
            server.server_close()

    assert answers == {
        ("DELETE", "/v1/generate"): (405, "POST"),
        ("PUT", "/v1/health"): (405, "GET"),
        ("PATCH", "/v2/nothing"): (404, None),
        ("GET", "/v1/nothing"): (404, None),
    }
