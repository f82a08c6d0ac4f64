"""Execution input tags: checked at ValidateInput against what Bedrock accepts, each problem at `$.tags.<key>`."""

from __future__ import annotations

import pytest

from nova_pipeline.contract.execution_input import MAX_USER_TAGS, PIPELINE_TAG_KEYS, parse_execution_input
from nova_pipeline.contract.run_state import ExecutionRef
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.jobs.bedrock import _tags

MINIMAL = {"dataset": {"uri": "raw/data.csv"}}


def problems_of(document: object) -> list[str]:
    with pytest.raises(InputProblemsError) as caught:
        parse_execution_input(document)
    return [str(problem) for problem in caught.value.problems]


def test_tags_bedrock_accepts_pass_through_to_every_resource() -> None:
    tags = {"team": "ml platform", "cost-center": "cc/42:a=b+c@d_e.f", "empty": "", "k" * 128: "v" * 256}

    parsed = parse_execution_input({**MINIMAL, "tags": tags})

    assert parsed.tags == tags
    sent = _tags(parsed, "dev", ExecutionRef(name="exec-1", arn="arn:x"))
    assert {tag["key"]: tag["value"] for tag in sent} == {
        **tags,
        "project": "nova-customization",
        "environment": "dev",
        "run": "exec-1",
        "execution": "exec-1",
    }


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ({"": "x"}, "$.tags.: key must be 1-128 characters (got 0)"),
        ({"k" * 129: "x"}, f"$.tags.{'k' * 129}: key must be 1-128 characters (got 129)"),
        ({"owner": "v" * 257}, "$.tags.owner: value must be 0-256 characters (got 257)"),
        (
            {"équipe": "x"},
            "$.tags.équipe: key may contain only ASCII letters, digits, whitespace and . _ : / = + @ - (got 'équipe')",
        ),
        (
            {"owner": "a,b"},
            "$.tags.owner: value may contain only ASCII letters, digits, whitespace and . _ : / = + @ - (got 'a,b')",
        ),
        ({"AWS:owner": "x"}, "$.tags.AWS:owner: key must not start with 'aws:' (reserved for AWS, in any case)"),
        ({"execution": "x"}, "$.tags.execution: is set by the pipeline itself (project, environment, run, execution)"),
    ],
)
def test_each_bedrock_tag_rule_is_named_at_the_tag(tags: dict[str, str], problem: str) -> None:
    assert problems_of({**MINIMAL, "tags": tags}) == [problem]


def test_at_most_fifty_tags_minus_the_pipelines_own() -> None:
    assert set(PIPELINE_TAG_KEYS) == {tag["key"] for tag in _tags(parse_execution_input(MINIMAL), "dev", _ref())}
    assert MAX_USER_TAGS == 50 - 4
    most = {f"tag{i}": "x" for i in range(MAX_USER_TAGS)}

    assert parse_execution_input({**MINIMAL, "tags": most}).tags == most
    assert problems_of({**MINIMAL, "tags": {**most, "one-more": "x"}}) == [
        "$.tags: at most 46 tags (a resource holds 50, the pipeline adds 4); got 47"
    ]


def test_tag_problems_come_in_the_same_round_trip_as_field_errors() -> None:
    document = {"dataset": {"uri": "raw/data.csv", "format": "xlsx"}, "tags": {"aws:x": "ok", "n": 5}}

    assert problems_of(document) == [
        "$.dataset.format: Input should be 'auto', 'csv', 'json' or 'jsonl' (got 'xlsx')",
        "$.tags.n: Input should be a valid string (got 5)",
        "$.tags.aws:x: key must not start with 'aws:' (reserved for AWS, in any case)",
    ]


def _ref() -> ExecutionRef:
    return ExecutionRef(name="exec-1", arn="arn:x")
