"""`run-local` refuses, before synthesizing anything, flags that would do nothing or that AWS would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova_pipeline.cli import main

ROOT = Path(__file__).resolve().parents[3]
INPUT = str(ROOT / "examples" / "sft-classification-nova-micro.json")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--fail-at", "NoSuchState"],
            "error: --fail-at NoSuchState: no Task state of that name; the task states are ValidateInput, PlanData, ",
        ),
        (["--job-seconds", "-1"], "error: --job-seconds -1.0: give a number of seconds, 0 or more"),
        (["--deployment-seconds", "nan"], "error: --deployment-seconds nan: give a number of seconds, 0 or more"),
        (["--job-seconds", "inf"], "error: --job-seconds inf: give a number of seconds, 0 or more"),
        (["--throttle", "0.9"], "error: --throttle 0.9: give a share of calls from 0 to 0.5"),
        (
            ["--name", "my run!"],
            "error: --name 'my run!': an execution name is 1-80 characters, letters, digits, '-' and '_' "
            "(Step Functions refuses anything else)",
        ),
        (["--name", "x" * 81], "error: --name 'xxxxxxxx"),
        (["--env", "staging"], "error: --env staging: not an environment of cdk.json; the environments are dev, prod"),
    ],
)
def test_a_flag_that_does_nothing_or_aws_would_refuse_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    code = main(["run-local", "--input", INPUT, *flags])

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith(message)
    assert "synthesizing" not in err  # refused before the (slow) synthesis
