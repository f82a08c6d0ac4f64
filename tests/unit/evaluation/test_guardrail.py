"""The environment's Bedrock guardrail: applied to the evaluation's and the inference API's Converse calls, its
intervention rate measured and gated, its permission required (checked as the twin checks IAM)."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.run_state import GuardrailRef
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.evaluation.gate import Thresholds, decide
from nova_pipeline.evaluation.metrics import evaluate_rows
from nova_pipeline.evaluation.runner import Pacer, Target, evaluate_batch
from nova_pipeline.inference.api import ApiSettings
from nova_pipeline.inference.models import GenerateRequest
from nova_pipeline.inference.service import converse_request
from nova_pipeline.local.iam import KeyDirectory, requirements
from nova_pipeline.local.simulator import GUARDRAIL_BLOCKED, BedrockSimulator, SimulatedError, SimulatorSettings
from nova_pipeline.promotion.record import ActiveModelRecord

RUNTIME_MODEL = botocore.session.get_session().get_service_model("bedrock-runtime")
GUARDRAIL = GuardrailRef(identifier="gr1abc", version="3")


class ValidatingRuntime:
    """The simulated runtime behind a botocore request check: every request is valid for the service model."""

    def __init__(self, simulator: BedrockSimulator) -> None:
        self.simulator, self.requests = simulator, []

    def converse_stream(self, **params: Any) -> dict[str, Any]:
        report = ParamValidator().validate(params, RUNTIME_MODEL.operation_model("ConverseStream").input_shape)
        assert not report.has_errors(), report.generate_report()
        self.requests.append(params)
        try:
            return self.simulator.handle("bedrock-runtime", "ConverseStream", params)
        except SimulatedError as error:  # as the twin's hooks answer it
            raise ClientError({"Error": {"Code": error.code, "Message": error.message}}, "ConverseStream") from None


def _rows() -> list[dict[str, Any]]:
    topics = ["billing", "password reset", "shipping", "password change"]
    return [{"id": str(i), "prompt": f"Help with {topic}", "reference": "support", "label": "support"}
            for i, topic in enumerate(topics)]  # fmt: skip


def _evaluate(guardrail: GuardrailRef | None) -> tuple[ValidatingRuntime, list[Any]]:
    runtime = ValidatingRuntime(BedrockSimulator(SimulatorSettings(guardrails={"gr1abc": ("password",)})))
    target = Target("us.amazon.nova-micro-v1:0", "Answer briefly.", 64, 0.0, 1.0, guardrail)
    candidate, _ = evaluate_batch(
        runtime, _rows(), candidate=target, baseline=None, pacer=Pacer(0), sleep=lambda _: None, seed=1
    )
    return runtime, candidate


def test_evaluation_sends_the_guardrail_and_measures_its_interventions() -> None:
    runtime, rows = _evaluate(GUARDRAIL)

    assert {str(r["guardrailConfig"]) for r in runtime.requests} == {
        str({"guardrailIdentifier": "gr1abc", "guardrailVersion": "3", "trace": "disabled",
             "streamProcessingMode": "sync"})
    }  # fmt: skip
    assert [row.stop_reason for row in rows] == ["end_turn", "guardrail_intervened", "end_turn", "guardrail_intervened"]
    assert rows[1].prediction == GUARDRAIL_BLOCKED
    assert evaluate_rows(rows, task=_task())["guardrailInterventionRate"] == 0.5


def test_without_a_guardrail_nothing_is_sent_and_the_rate_is_zero() -> None:
    runtime, rows = _evaluate(None)

    assert all("guardrailConfig" not in r for r in runtime.requests)
    assert evaluate_rows(rows, task=_task())["guardrailInterventionRate"] == 0.0


def test_an_unknown_guardrail_is_refused_as_bedrock_refuses_it() -> None:
    _, rows = _evaluate(GuardrailRef(identifier="nosuch", version="1"))

    assert all(row.error and row.error.startswith("ValidationException") for row in rows)


def _task() -> Any:
    from nova_pipeline.contract.catalog import TaskType

    return TaskType.GENERATION


def _decide(rate: float | None, maximum: float | None) -> Any:
    return decide(
        metric="tokenF1", candidate=0.9, baseline=0.1, promoted=None, ttft_p90_ms=None, cost_per_1k_requests=None,
        error_rate=0.0, thresholds=Thresholds(max_guardrail_intervention_rate=maximum),
        guardrail_intervention_rate=rate,
    )  # fmt: skip


def test_the_gate_rejects_a_candidate_the_guardrail_stops_too_often() -> None:
    verdict = _decide(0.25, 0.1)

    assert verdict.verdict == "rejected"
    assert verdict.dump()["failed"] == ["guardrail intervention rate 25.00% > maximum 10.00%"]
    assert _decide(0.05, 0.1).promoted
    assert _decide(0.25, None).promoted  # reported, not gated


def test_a_rate_nobody_measured_does_not_pass_a_gate_on_it() -> None:
    assert _decide(None, 0.1).dump()["failed"] == [
        "guardrail intervention rate not measured (no guardrail applied) > maximum 10.00%"
    ]


def test_an_input_gating_on_a_guardrail_the_environment_lacks_is_refused_before_any_spend() -> None:
    document = {"dataset": {"uri": "raw/x/"}, "gate": {"maxGuardrailInterventionRate": 0.1}}

    with pytest.raises(InputProblemsError) as caught:
        parse_execution_input(document, guardrail=False)

    assert "$.gate.maxGuardrailInterventionRate: this environment applies no guardrail" in str(caught.value)
    assert parse_execution_input(document, guardrail=True).gate.max_guardrail_intervention_rate == 0.1


def test_an_input_may_not_loosen_the_environments_maximum() -> None:
    document = {"dataset": {"uri": "raw/x/"}, "gate": {"maxGuardrailInterventionRate": 0.5}}

    with pytest.raises(InputProblemsError, match=r"maxGuardrailInterventionRate: 0\.5 is looser"):
        parse_execution_input(document, gate_defaults={"max_guardrail_intervention_rate": 0.1}, guardrail=True)


def test_the_inference_api_applies_the_environments_guardrail() -> None:
    settings = ApiSettings.from_environment(
        {"NOVA_ENVIRONMENT": "dev", "NOVA_GUARDRAIL_ID": "gr1abc", "NOVA_GUARDRAIL_VERSION": "3"}
    )
    record = ActiveModelRecord.model_validate(
        {
            "deploymentArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc",
            "customModelArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc",
            "baseModel": "nova-micro",
            "promotedAt": "2026-11-24T00:00:00Z",
            "version": 1,
        }
    )
    request = converse_request(record, GenerateRequest(input="hello"), settings.limits())

    report = ParamValidator().validate(request, RUNTIME_MODEL.operation_model("Converse").input_shape)
    assert not report.has_errors(), report.generate_report()
    assert request["guardrailConfig"] == {"guardrailIdentifier": "gr1abc", "guardrailVersion": "3"}
    no_guardrail = ApiSettings.from_environment({"NOVA_ENVIRONMENT": "dev"}).limits()
    assert "guardrailConfig" not in converse_request(record, GenerateRequest(input="hello"), no_guardrail)


def test_a_call_with_a_guardrail_needs_apply_guardrail_on_it() -> None:
    class NoResources:
        def of_type(self, _: str) -> list[Any]:
            return []

    params = {
        "modelId": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc",
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "guardrailConfig": GUARDRAIL.converse_config(stream=False),
    }
    needs = requirements("bedrock-runtime", "Converse", params, KeyDirectory(NoResources()))  # type: ignore[arg-type]

    assert ("bedrock:ApplyGuardrail", "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr1abc") in {
        (n.action, n.resource) for n in needs
    }


def _report(guardrail: dict[str, str] | None) -> dict[str, Any]:
    from nova_pipeline.evaluation.cost import load_prices
    from nova_pipeline.evaluation.service import evaluation_report

    _, rows = _evaluate(GUARDRAIL if guardrail else None)
    return evaluation_report(
        candidate_rows=rows,
        baseline_rows=None,
        task=_task(),
        model="nova-micro",
        prices=load_prices(),
        traffic={"queriesPerMonth": 1000, "inputTokens": 100, "outputTokens": 10},
        thresholds=Thresholds(max_guardrail_intervention_rate=0.1),
        guardrail=guardrail,
    )


def test_the_report_shows_the_guardrail_and_its_rate() -> None:
    from nova_pipeline.evaluation.report import render_html

    report = _report(GUARDRAIL.model_dump(by_alias=True))

    assert report["guardrail"] == {"identifier": "gr1abc", "version": "3", "candidate": 0.5, "baseline": None}
    assert "guardrail intervention rate 50.00% > maximum 10.00%" in report["gate"]["failed"]
    assert "the guardrail intervened on 50.0% of the candidate&#x27;s answers" in render_html(report)


def test_without_a_guardrail_the_report_has_none_and_the_gate_says_not_measured() -> None:
    report = _report(None)

    assert report["guardrail"] is None
    assert report["gate"]["failed"] == [
        "guardrail intervention rate not measured (no guardrail applied) > maximum 10.00%"
    ]
