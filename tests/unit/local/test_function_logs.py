"""run-local's log redirection works when the functions' log handler still holds a closed stream."""

from __future__ import annotations

import io
import json
from pathlib import Path

from nova_pipeline.core.observability import logger
from nova_pipeline.local.runs import function_logs


def test_the_logs_go_to_the_file_even_when_the_handler_holds_a_closed_stream(tmp_path: Path) -> None:
    # Given the handler created while a test captured stdout, which pytest closed after that test
    handler = logger.registered_handler
    closed = io.TextIOWrapper(io.BytesIO())  # as pytest's CaptureIO
    closed.close()
    original, handler.stream = handler.stream, closed  # type: ignore[attr-defined]
    try:
        # When run-local sends the functions' logs to the run folder (setStream raised ValueError here)
        with function_logs(tmp_path / "logs.jsonl", echo=False):
            logger.info("into the run folder")

        # Then the record is in the file, and the handler has its previous stream back
        [record] = [json.loads(line) for line in (tmp_path / "logs.jsonl").read_text().splitlines()]
        assert record["message"] == "into the run folder"
        assert handler.stream is closed  # type: ignore[attr-defined]
    finally:
        handler.stream = original  # type: ignore[attr-defined]
