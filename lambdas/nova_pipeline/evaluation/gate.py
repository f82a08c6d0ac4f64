"""The quality gate: every threshold checked, the verdict `promoted` or `rejected` with every reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LOOSENING_HINT = "an execution may only make the environment's gate stricter (a higher minimum, a lower maximum)"
# camelCase names of the execution input's `gate` block
INPUT_NAMES = {
    "min_primary_metric": "minPrimaryMetric",
    "min_gain_over_baseline": "minGainOverBaseline",
    "max_ttft_p90_ms": "maxTtftP90Ms",
    "max_cost_per_1k_requests_usd": "maxCostPer1kRequestsUsd",
    "max_error_rate": "maxErrorRate",
    "max_guardrail_intervention_rate": "maxGuardrailInterventionRate",
    "max_general_regression": "maxGeneralRegression",
}


class GateLoosened(ValueError):  # noqa: N818 - the Step Functions error name a user reads
    """An execution input tried to lower a threshold of the environment's gate."""


def loosened(defaults: dict[str, Any], overrides: dict[str, Any]) -> list[tuple[str, str]]:
    """(threshold, problem) for each override looser than the environment's value: a lower minimum or a higher
    maximum. A threshold the environment does not check (None) can be set to anything: any value adds a check."""
    problems = []
    for name in INPUT_NAMES:
        wanted, floor = overrides.get(name), defaults.get(name)
        if wanted is None or floor is None:
            continue
        looser = wanted < floor if name.startswith("min_") else wanted > floor
        if looser:
            problems.append((name, f"{wanted:g} is looser than this environment's {floor:g}: {LOOSENING_HINT}"))
    return problems


@dataclass(frozen=True)
class Thresholds:
    """Unset (None) thresholds are not checked. Execution input values override the environment's defaults, and
    only to make them stricter: anyone who can start an execution must not be able to lower the environment's gate."""

    min_primary_metric: float | None = None
    min_gain_over_baseline: float | None = None
    max_ttft_p90_ms: float | None = None
    max_cost_per_1k_requests_usd: float | None = None
    max_error_rate: float | None = None
    max_guardrail_intervention_rate: float | None = None
    max_general_regression: float | None = None

    @classmethod
    def merged(cls, defaults: dict[str, Any], overrides: dict[str, Any]) -> Thresholds:
        """The environment's thresholds tightened by the overrides; `GateLoosened` if any override loosens one."""
        problems = loosened(defaults, overrides)
        if problems:
            raise GateLoosened("; ".join(f"gate.{INPUT_NAMES[name]} {text}" for name, text in problems))
        values = {
            name: overrides.get(name) if overrides.get(name) is not None else defaults.get(name)
            for name in cls.__dataclass_fields__
        }
        return cls(**values)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    verdict: str
    checks: list[Check]
    thresholds: Thresholds

    @property
    def promoted(self) -> bool:
        return self.verdict == "promoted"

    def dump(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": [asdict(check) for check in self.checks],
            "failed": [check.detail for check in self.checks if not check.passed],
            "thresholds": asdict(self.thresholds),
        }


def decide(
    *,
    metric: str,
    candidate: float,
    baseline: float | None,
    promoted: float | None,
    ttft_p90_ms: float | None,
    cost_per_1k_requests: float | None,
    error_rate: float,
    thresholds: Thresholds,
    rows: int = 1,
    guardrail_intervention_rate: float | None = None,
    general: tuple[float, float] | None = None,
) -> Verdict:
    """`general` is (base model, candidate) accuracy on the general set, when one was evaluated."""
    checks: list[Check] = []
    if rows <= 0:
        checks.append(Check("evaluatedRows", False, "no test rows were evaluated: nothing to judge the candidate on"))
    t = thresholds
    if t.min_primary_metric is not None:
        checks.append(
            Check(
                "minPrimaryMetric",
                candidate >= t.min_primary_metric,
                f"{metric} {candidate:.4f} {'>=' if candidate >= t.min_primary_metric else '<'} "
                f"minimum {t.min_primary_metric:.4f}",
            )
        )
    if t.min_gain_over_baseline is not None and baseline is not None:
        gain = candidate - baseline
        ok = gain >= t.min_gain_over_baseline
        checks.append(
            Check(
                "minGainOverBaseline",
                ok,
                f"{metric} gain over the baseline {gain:+.4f} "
                f"{'>=' if ok else '<'} required {t.min_gain_over_baseline:+.4f}",
            )
        )
    if promoted is not None:
        ok = candidate >= promoted
        checks.append(
            Check(
                "notWorseThanPromoted",
                ok,
                f"{metric} {candidate:.4f} {'>=' if ok else '<'} the promoted model's {promoted:.4f}",
            )
        )
    if t.max_ttft_p90_ms is not None and ttft_p90_ms is not None:
        ok = ttft_p90_ms <= t.max_ttft_p90_ms
        checks.append(
            Check(
                "maxTtftP90Ms",
                ok,
                f"TTFT p90 {ttft_p90_ms:.0f} ms {'<=' if ok else '>'} maximum {t.max_ttft_p90_ms:.0f} ms",
            )
        )
    if t.max_cost_per_1k_requests_usd is not None and cost_per_1k_requests is not None:
        ok = cost_per_1k_requests <= t.max_cost_per_1k_requests_usd
        checks.append(
            Check(
                "maxCostPer1kRequestsUsd",
                ok,
                f"cost per 1,000 requests ${cost_per_1k_requests:.4f} "
                f"{'<=' if ok else '>'} maximum ${t.max_cost_per_1k_requests_usd:.4f}",
            )
        )
    if t.max_error_rate is not None:
        ok = error_rate <= t.max_error_rate
        checks.append(
            Check(
                "maxErrorRate", ok, f"error rate {error_rate:.2%} {'<=' if ok else '>'} maximum {t.max_error_rate:.2%}"
            )
        )
    if t.max_guardrail_intervention_rate is not None:
        rate = guardrail_intervention_rate
        ok = rate is not None and rate <= t.max_guardrail_intervention_rate
        shown = "not measured (no guardrail applied)" if rate is None else f"{rate:.2%}"
        checks.append(
            Check(
                "maxGuardrailInterventionRate",
                ok,
                f"guardrail intervention rate {shown} {'<=' if ok else '>'} maximum "
                f"{t.max_guardrail_intervention_rate:.2%}",
            )
        )
    if t.max_general_regression is not None:
        if general is None:
            checks.append(Check("maxGeneralRegression", False, "general-set regression not measured (no general set)"))
        else:
            base, now = general
            regression = base - now
            ok = regression <= t.max_general_regression
            checks.append(
                Check(
                    "maxGeneralRegression",
                    ok,
                    f"general-set accuracy fell {regression:+.4f} from the base model's {base:.4f} to {now:.4f} "
                    f"{'<=' if ok else '>'} maximum {t.max_general_regression:.4f}",
                )
            )
    verdict = "promoted" if all(check.passed for check in checks) else "rejected"
    return Verdict(verdict, checks, thresholds)
