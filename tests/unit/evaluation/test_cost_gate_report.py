"""Cost (the seed's $0.80), the gate's verdicts, and the report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nova_pipeline.cli import main
from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.evaluation.cost import load_prices, monthly_cost
from nova_pipeline.evaluation.gate import Thresholds, decide
from nova_pipeline.evaluation.predictions import PredictionRow
from nova_pipeline.evaluation.report import parse_loss_csv, render_html
from nova_pipeline.evaluation.service import evaluation_report

ROOT = Path(__file__).resolve().parents[3]


def test_the_seed_workload_costs_80_cents_a_month_in_tokens() -> None:
    breakdown = monthly_cost(load_prices(), "nova-micro", queries_per_month=22_000, input_tokens=800, output_tokens=60)

    assert breakdown["inputCost"] == pytest.approx(0.616)
    assert breakdown["outputCost"] == pytest.approx(0.1848)
    assert round(breakdown["inferenceCost"], 2) == 0.80
    assert breakdown["storageCost"] == 1.95
    assert breakdown["totalMonthly"] == pytest.approx(2.7508)


def test_a_user_price_table_overrides_the_shipped_one(tmp_path: Path) -> None:
    table = tmp_path / "prices.json"
    table.write_text(
        json.dumps(
            {"version": "mine", "models": {"nova-micro": {"inputPer1kTokens": 0.001, "outputPer1kTokens": 0.002}}}
        )
    )

    breakdown = monthly_cost(
        load_prices(table), "nova-micro", queries_per_month=1000, input_tokens=1000, output_tokens=1000
    )

    assert (breakdown["priceTable"], breakdown["inferenceCost"], breakdown["storageCost"]) == ("mine", 3.0, 0.0)


def test_cost_cli_prints_the_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "cost",
                "--model",
                "nova-micro",
                "--queries-per-month",
                "22000",
                "--input-tokens",
                "800",
                "--output-tokens",
                "60",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["inferenceCost"] == pytest.approx(0.8008)


ALL = Thresholds(
    min_primary_metric=0.8,
    min_gain_over_baseline=0.05,
    max_ttft_p90_ms=500,
    max_cost_per_1k_requests_usd=0.05,
    max_error_rate=0.02,
)


def verdict(**changes: float | None) -> dict[str, object]:
    values: dict[str, float | None] = {
        "candidate": 0.9,
        "baseline": 0.5,
        "promoted": 0.85,
        "ttft_p90_ms": 400.0,
        "cost_per_1k_requests": 0.04,
        "error_rate": 0.0,
    }
    values.update(changes)
    return decide(metric="accuracy", thresholds=ALL, **values).dump()  # type: ignore[arg-type]


def test_a_candidate_that_passes_every_check_is_promoted() -> None:
    result = verdict()
    assert result["verdict"] == "promoted" and result["failed"] == []
    assert len(result["reasons"]) == 6


@pytest.mark.parametrize(
    ("changes", "failure"),
    [
        ({"candidate": 0.7, "promoted": None}, "accuracy 0.7000 < minimum 0.8000"),
        ({"baseline": 0.88}, "accuracy gain over the baseline +0.0200 < required +0.0500"),
        ({"ttft_p90_ms": 640.0}, "TTFT p90 640 ms > maximum 500 ms"),
        ({"cost_per_1k_requests": 0.09}, "cost per 1,000 requests $0.0900 > maximum $0.0500"),
        ({"error_rate": 0.05}, "error rate 5.00% > maximum 2.00%"),
        ({"promoted": 0.95}, "accuracy 0.9000 < the promoted model's 0.9500"),
    ],
)
def test_each_threshold_can_reject_with_its_reason(changes: dict[str, float | None], failure: str) -> None:
    result = verdict(**changes)
    assert result["verdict"] == "rejected"
    assert result["failed"] == [failure]


def test_environment_defaults_fill_what_the_input_leaves_unset() -> None:
    merged = Thresholds.merged({"max_error_rate": 0.05, "min_primary_metric": 0.5}, {"min_primary_metric": 0.9})
    assert (merged.min_primary_metric, merged.max_error_rate, merged.max_ttft_p90_ms) == (0.9, 0.05, None)


def test_loss_csv_columns_are_found_by_name() -> None:
    text = "step_number,epoch_number,training_loss\n1,0,2.5\n2,0,1.9\nbad,0,x\n"
    assert parse_loss_csv(text, "training") == [(1.0, 2.5), (2.0, 1.9)]
    assert parse_loss_csv("", "training") == []


def test_report_is_self_contained_escaped_and_labelled_simulated() -> None:
    rows = [
        PredictionRow(prediction="<script>alert(1)</script>", reference="bug", label="bug"),
        PredictionRow(prediction="billing", reference="billing", label="billing"),
    ]
    report = evaluation_report(
        candidate_rows=rows,
        baseline_rows=rows[:1] + rows[:1],
        task=TaskType.CLASSIFICATION,
        model="nova-micro",
        prices=load_prices(),
        traffic={"queriesPerMonth": 22000, "inputTokens": 800, "outputTokens": 60},
        thresholds=Thresholds(min_primary_metric=0.9),
        run={"execution": "<b>x</b>"},
        loss_curves={"training": [(1, 2.0), (2, 1.0)]},
        simulated=True,
    )

    page = render_html(report)

    assert report["gate"]["verdict"] == "rejected" and report["simulated"] is True
    assert "<script>alert" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "SIMULATED" in page and "Verdict: rejected" in page and "<svg" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_evaluate_cli_writes_both_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gate = tmp_path / "gate.json"
    gate.write_text(json.dumps({"minPrimaryMetric": 0.5}))

    code = main(
        [
            "evaluate",
            "--predictions",
            str(ROOT / "examples/predictions/text-to-sql.jsonl"),
            "--task",
            "text-to-sql",
            "--gate-json",
            str(gate),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == "4 predictions, task text-to-sql; executionAccuracy: 0.5000"
    assert "verdict: promoted" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["candidate"]["unparseableRate"] == 0.25
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!doctype html>")


def test_a_candidate_evaluated_on_no_rows_is_never_promoted() -> None:
    result = decide(
        metric="accuracy",
        candidate=0.0,
        baseline=None,
        promoted=None,
        ttft_p90_ms=None,
        cost_per_1k_requests=None,
        error_rate=0.0,
        thresholds=Thresholds(),
        rows=0,
    ).dump()
    assert result["verdict"] == "rejected"
    assert result["failed"] == ["no test rows were evaluated: nothing to judge the candidate on"]
