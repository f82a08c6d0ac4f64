"""The twin runs every function in one process: executions at the same time (and a Map's items) invoke functions
concurrently, so one invocation ending must not unset the variables of another still running."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from nova_pipeline.local.hooks import LambdaDispatcher, LocalFunction

HANDLER = """
import os, threading
second_started, first_done = threading.Event(), threading.Event()
def lambda_handler(event, context):
    if event["name"] == "first":
        second_started.wait(10)
        return {}
    second_started.set()
    first_done.wait(10)
    return {"probe": os.environ.get("NOVA_TWIN_PROBE"), "kept": os.environ.get("NOVA_TWIN_KEPT")}
"""


def test_an_invocation_ending_leaves_the_variables_of_one_still_running(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.delenv("NOVA_TWIN_PROBE", raising=False)
    monkeypatch.setenv("NOVA_TWIN_KEPT", "before")
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "handler.py").write_text(HANDLER)
    function = LocalFunction(
        name="probe",
        arn="arn:aws:lambda:us-east-1:123456789012:function:probe",
        handler_dir=tmp_path / "probe",
        environment={"NOVA_TWIN_PROBE": "set", "NOVA_TWIN_KEPT": "during"},
    )
    dispatcher = LambdaDispatcher()
    dispatcher.add(function)
    module = function.load()
    answers: dict[str, Any] = {}

    def invoke(name: str) -> None:
        response = dispatcher.invoke("probe", json.dumps({"name": name}).encode())
        answers[name] = json.loads(response["Payload"].read())

    # Given: a first invocation is running, then a second one starts
    first = threading.Thread(target=invoke, args=("first",))
    first.start()
    deadline = time.monotonic() + 10
    while os.environ.get("NOVA_TWIN_PROBE") != "set" and time.monotonic() < deadline:
        time.sleep(0.01)
    second = threading.Thread(target=invoke, args=("second",))
    second.start()

    # When: the first ends while the second still runs
    first.join(10)
    module.first_done.set()
    second.join(10)

    # Then: the second saw its variables to its end, and afterwards the process has what it had before
    assert answers["second"] == {"probe": "set", "kept": "during"}
    assert "NOVA_TWIN_PROBE" not in os.environ
    assert os.environ["NOVA_TWIN_KEPT"] == "before"
