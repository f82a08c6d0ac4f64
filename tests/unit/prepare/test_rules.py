"""Every validation rule: one failing record each, with the exact message a user sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nova_pipeline.prepare.engine import InvalidDataset
from tests.unit.prepare.conftest import qa_rows, run_prepare

GOOD = qa_rows(20)


def conversation(*turns: tuple[str, str], system: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": r, "content": [{"text": t}]} for r, t in turns],
    }
    if system:
        record["system"] = [{"text": system}]
    return record


def failing(tmp_path: Path, bad: dict[str, Any], **overrides: Any) -> list[str]:
    source = tmp_path / "train.jsonl"
    rows = [conversation(("user", r["question"]), ("assistant", r["answer"])) for r in GOOD]
    source.write_text("".join(json.dumps(row) + "\n" for row in [*rows[:3], bad, *rows[3:]]))
    with pytest.raises(InvalidDataset) as caught:
        run_prepare(source, tmp_path / "out", **overrides)
    assert not (tmp_path / "out" / "manifest.json").exists()
    return caught.value.problems


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            conversation(("user", "a"), ("user", "b")),
            'train.jsonl line 4: messages[1].role: is "user", expected "assistant"',
        ),
        (
            conversation(("assistant", "a"), ("user", "b")),
            'train.jsonl line 4: messages[0].role: is "assistant", expected "user"',
        ),
        (
            conversation(("user", "a"), ("assistant", "b"), ("user", "c")),
            'train.jsonl line 4: messages[2].role: "user" is the last turn; the last turn must be "assistant"',
        ),
        (
            conversation(("user", "a"), ("tool", "b")),
            'train.jsonl line 4: messages[1].role: is "tool", expected "user" or "assistant"',
        ),
        (
            conversation(("user", "   "), ("assistant", "b")),
            "train.jsonl line 4: messages[0].content[0].text: is empty",
        ),
        (
            conversation(("user", "x" * 100_000), ("assistant", "b")),
            "train.jsonl line 4: record: estimated 33,335 tokens exceeds the nova-micro limit of 32,000 (estimate: "
            "characters / 3, rounded up; conservative)",
        ),
        (
            {"schemaVersion": "bedrock-conversation-2024", "messages": "hello"},
            "train.jsonl line 4: messages: is missing or not a list",
        ),
    ],
)
def test_record_rules(tmp_path: Path, bad: dict[str, Any], message: str) -> None:
    assert failing(tmp_path, bad) == [message]


def test_reserved_strings_and_control_characters_are_problems_under_reject(tmp_path: Path) -> None:
    assert failing(
        tmp_path,
        conversation(("user", "what does [eos] do"), ("assistant", "b")),
        dataset={"uri": "x", "sanitize": "reject"},
    ) == ["train.jsonl line 4: messages[0].content[0].text: contains reserved string '[eos]' (Bedrock rejects the job)"]
    assert failing(
        tmp_path, conversation(("user", "bell\x07"), ("assistant", "b")), dataset={"uri": "x", "sanitize": "reject"}
    ) == ["train.jsonl line 4: messages[0].content[0].text: contains control character U+0007"]


def test_reserved_strings_are_rewritten_as_the_seed_does_under_fix(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    rows = [{"question": f"USER: hi <image> {i}", "answer": f"Bot: ok [EOS] {i}\x00"} for i in range(20)]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))

    result = run_prepare(source, tmp_path / "out", split={"train": 1.0, "validation": 0.0, "test": 0.0})

    first = json.loads((tmp_path / "out" / "train.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["content"][0]["text"] == "USER : hi {0}".replace("{0}", "0").replace("  ", " ")
    assert first["messages"][1]["content"][0]["text"] == "Bot : ok 0"
    assert result.manifest["fixes"] == {"controlCharacters": 20, "reservedStrings": 80, "whitespace": 40}


def media(kind: str, uri: str, fmt: str = "png") -> dict[str, Any]:
    block = {"format": fmt, "source": {"s3Location": {"uri": uri}}}
    return {kind: block}


def media_record(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": "describe"}, *blocks]},
            {"role": "assistant", "content": [{"text": "a cat"}]},
        ],
    }


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            media_record(media("image", "s3://data/raw/a.bmp", "bmp")),
            "train.jsonl line 4: messages[0].content[1].image.format: is 'bmp', expected one of png, jpeg, gif, webp",
        ),
        (
            media_record(*[media("image", f"s3://data/raw/{i}.png") for i in range(11)]),
            "train.jsonl line 4: messages[0].content[11]: more than 10 images",
        ),
        (
            media_record(media("image", "s3://data/raw/a.png"), media("video", "s3://data/raw/v.mp4", "mp4")),
            "train.jsonl line 4: messages[0].content[2]: a record cannot mix images and a video",
        ),
        (
            media_record(media("image", "s3://elsewhere/raw/a.png")),
            "train.jsonl line 4: messages[0].content[1].image.source.s3Location.uri: is in bucket 'elsewhere'; media "
            "must sit in the dataset's bucket 'data'",
        ),
        (
            media_record(media("image", "s3://data/raw/my photo.png")),
            "train.jsonl line 4: messages[0].content[1].image.source.s3Location.uri: key 'raw/my photo.png' has "
            "characters other than letters, digits and _ - / .",
        ),
    ],
)
def test_media_rules(tmp_path: Path, record: dict[str, Any], message: str) -> None:
    from nova_pipeline.prepare.engine import prepare
    from nova_pipeline.prepare.sources import OutputLocation, list_sources
    from tests.unit.prepare.conftest import run_config

    source = tmp_path / "train.jsonl"
    rows = [media_record(media("image", f"s3://data/raw/{i}.png")) for i in range(3)]
    rows = [
        {**r, "messages": [r["messages"][0], {"role": "assistant", "content": [{"text": f"cat {i}"}]}]}
        for i, r in enumerate(rows)
    ] + [record]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(InvalidDataset) as caught:
        prepare(
            list_sources(str(source)),
            run_config(baseModel="nova-lite"),
            OutputLocation(str(tmp_path / "o")),
            data_bucket="data",
        )
    assert caught.value.problems == [message]


def test_media_needs_a_multimodal_model(tmp_path: Path) -> None:
    assert failing(tmp_path, media_record(media("image", "s3://data/raw/a.png"))) == [
        "train.jsonl line 4: messages[0].content[1]: images and videos need a multimodal model (nova-lite, nova-pro)"
    ]


def test_count_bounds_per_model_and_method(tmp_path: Path) -> None:
    source = tmp_path / "few.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in qa_rows(150)))

    with pytest.raises(InvalidDataset) as caught:
        run_prepare(
            source, tmp_path / "out", baseModel="nova-2-lite", split={"train": 0.9, "validation": 0.0, "test": 0.1}
        )
    assert caught.value.problems == [
        f"train split: {caught.value.problems[0].split()[2]} records; nova-2-lite sft needs at least 200"
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in qa_rows(1300)))
    result = run_prepare(source, tmp_path / "out", split={"train": 0.05, "validation": 0.9, "test": 0.05})
    assert result.splits["validation"].records == 1000  # the validation limit, by deterministic sampling
    assert result.manifest["records"]["cappedFromValidation"] > 100


def test_a_missing_template_column_names_the_column_and_those_that_exist(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in qa_rows(10)))

    with pytest.raises(InvalidDataset) as caught:
        run_prepare(source, tmp_path / "out", prompt={"system": "Schema: {schema}"})

    assert caught.value.problems == [
        "d.jsonl line 1: prompt.system uses column 'schema', which the data does not have; columns: answer, question"
    ]


def test_first_problems_and_the_count_of_all_or_skip_and_report(tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    rows = qa_rows(40) + [{"question": "", "answer": f"a{i}"} for i in range(30)]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))

    with pytest.raises(InvalidDataset) as caught:
        run_prepare(source, tmp_path / "out")
    assert caught.value.total == 30 and len(caught.value.problems) == 20
    assert str(caught.value).endswith("... and 10 more")

    result = run_prepare(source, tmp_path / "out", dataset={"uri": "x", "onInvalid": "skip"})
    assert result.manifest["records"]["rejected"] == 30
    assert result.manifest["problems"]["first"][0] == "d.jsonl line 41: messages[0].content[0].text: is empty"
