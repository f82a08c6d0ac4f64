"""`run-local` takes the user's own data: a local file or folder as `dataset.uri` is uploaded to the simulated data
bucket, as a user would upload it to AWS, and the execution prepares it from there."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.workflow.conftest import ROOT, example


def test_a_local_file_as_the_dataset_is_uploaded_and_prepared(offline_twin: Any, tmp_path: Path) -> None:
    own = tmp_path / "my-tickets"
    own.mkdir()
    shutil.copy(ROOT / "examples/data/support-tickets/tickets.jsonl", own / "exported.jsonl")
    document = example("sft-classification-nova-micro.json")
    document["dataset"]["uri"] = str(own / "exported.jsonl")

    with offline_twin() as twin:
        resolved = twin.upload_local_dataset(document, tmp_path)
        result = twin.run(resolved)

    assert resolved["dataset"]["uri"] == "raw/local/my-tickets/exported.jsonl"
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["data"]["train"] > 0


def test_a_relative_folder_is_found_beside_the_input_file_and_other_uris_are_left_alone(
    offline_twin: Any, tmp_path: Path
) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.jsonl").write_text('{"text": "hi", "label": "other"}\n')
    document = {"dataset": {"uri": "parts/"}}

    with offline_twin() as twin:
        assert twin.upload_local_dataset(document, tmp_path)["dataset"]["uri"] == "raw/local/parts/"
        assert twin.upload_local_dataset({"dataset": {"uri": "raw/text-to-sql/"}}, tmp_path) == {
            "dataset": {"uri": "raw/text-to-sql/"}
        }


def test_a_local_folder_is_uploaded_without_following_links_out_of_it(
    offline_twin: Any, tmp_path: Path, capsys: Any
) -> None:
    import boto3

    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"text": "hi", "label": "other"}\n')
    (folder / "passwd.jsonl").symlink_to("/etc/passwd")
    (folder / "gone.jsonl").symlink_to(tmp_path / "nowhere")

    with offline_twin() as twin:
        twin.upload_local_dataset({"dataset": {"uri": "parts/"}}, tmp_path)
        listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(
            Bucket=twin.data_bucket, Prefix="raw/local/parts/"
        )

    assert [item["Key"] for item in listed["Contents"]] == ["raw/local/parts/a.jsonl"]
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "not uploaded: gone.jsonl (dangling or unreadable symbolic link)",
        "not uploaded: passwd.jsonl (symbolic link to a file outside the input folder)",
    ]
