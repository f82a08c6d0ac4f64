"""The shape of the Python-built workflow: one retry policy, one catch policy, typed result paths, known placeholders.

(`definition()` was checked equal to the ASL file it replaced, `stepfunctions/customization.asl.json`, before that
file was deleted.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Template

from nova_pipeline.contract.run_state import RunState
from stepfunctions.workflow import CATCH, RETRY, definition, path

CLEANUP_PATH = {"Cleanup", "Failed", "CleanupFailed"}
RUN_STATE_KEYS = {info.alias or name for name, info in RunState.model_fields.items()}


def all_states(states: dict[str, Any], *, inner: bool = False) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(name, state, inside a Map item processor) for every state, Map item processors included."""
    for name, state in states.items():
        yield name, state, inner
        if state["Type"] == "Map":
            yield from all_states(state["ItemProcessor"]["States"], inner=True)


def test_every_task_retries_with_the_one_retry_policy() -> None:
    tasks = [(name, state) for name, state, _ in all_states(definition()["States"]) if state["Type"] == "Task"]

    assert len(tasks) == 27  # with the SageMaker evaluation pair, CheckBudget, RequestApproval, the PT pair
    for name, state in tasks:
        assert state["Retry"] == RETRY, name


def test_every_task_and_map_outside_the_cleanup_path_catches_everything_into_cleanup() -> None:
    assert CATCH == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Cleanup"}]
    states = definition()["States"]
    for name, state, inner in all_states(states):
        if state["Type"] not in ("Task", "Map"):
            continue
        if inner:
            assert "Catch" not in state, f"{name}: a failed item fails its Map, whose Catch applies"
        elif name in CLEANUP_PATH:
            assert state["Catch"] != CATCH, f"{name}: a failed clean-up must not loop back into Cleanup"
        elif name == "RequestApproval":  # a rejection and the timeout go the way of a gate rejection
            assert state["Catch"] == [
                {"ErrorEquals": ["ApprovalRejected"], "ResultPath": "$.approvalError", "Next": "ApprovalRejected"},
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.approvalError", "Next": "ApprovalTimedOut"},
                *CATCH,
            ]
            assert states["ApprovalRejected"]["Next"] == states["ApprovalTimedOut"]["Next"] == "RejectCandidate"
        else:
            assert state["Catch"] == CATCH, name
    assert states["Cleanup"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanupError", "Next": "CleanupFailed"}
    ]


def test_every_key_the_workflow_writes_is_a_run_state_field() -> None:
    states = definition()["States"]
    written = {f"{name}.ResultPath": state["ResultPath"] for name, state in states.items() if "ResultPath" in state} | {
        f"{name}.Catch": catch["ResultPath"] for name, state in states.items() for catch in state.get("Catch", [])
    }
    for where, result_path in written.items():
        assert result_path is None or re.fullmatch(r"\$\.(\w+)", result_path), where
        if result_path is not None:
            assert result_path.removeprefix("$.") in RUN_STATE_KEYS, where
    # Initialize replaces the whole document: each key it writes is a field too.
    initialized = {key.removesuffix(".$") for key in states["Initialize"]["Parameters"]}
    assert initialized == {"raw", "execution"} and initialized <= RUN_STATE_KEYS


def test_a_path_outside_run_state_fails_at_synth() -> None:
    assert path("job", "waitSeconds") == "$.job.waitSeconds"
    assert path("evaluation", "verdict") == "$.evaluation.verdict"  # an open dict is not checked further
    for typo in (("jobs",), ("job", "waitSecond"), ("input", "evaluation", "enable")):
        with pytest.raises(KeyError):
            path(*typo)


def test_every_placeholder_is_a_substitution_the_stack_passes(templates: dict[str, Template]) -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", json.dumps(definition())))

    assert len(placeholders) == 28  # with the SageMaker evaluation pair, CheckBudget, RequestApproval, the PT pair
    for stack in ("nova-dev-pipeline", "nova-prod-pipeline"):
        [machine] = templates[stack].find_resources("AWS::StepFunctions::StateMachine").values()
        assert placeholders == set(machine["Properties"]["DefinitionSubstitutions"]), stack
