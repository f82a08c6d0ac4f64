"""Costs from one versioned price table (`prices.json`), overridable by a user-given table.

Projected monthly cost = queries * (input tokens * input price + output tokens * output price) / 1,000 + storage of
the custom model. The seed workload (22,000 queries of 800 in / 60 out on Nova Micro) is $0.616 + $0.184 = $0.80.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelPrices:
    input_per_1k_tokens: float
    output_per_1k_tokens: float
    custom_model_storage_per_month: float
    training_per_1k_tokens: float


@dataclass(frozen=True)
class PriceTable:
    version: str
    models: dict[str, ModelPrices]
    instances: dict[str, float] = field(default_factory=dict)
    """SageMaker training price per instance-hour, by instance type."""

    source: str = "the shipped table (nova_pipeline/evaluation/prices.json)"
    """Where the prices come from, printed next to every figure computed from them."""

    def instance_hour(self, instance_type: str) -> float | None:
        return self.instances.get(instance_type)

    def of(self, model: str) -> ModelPrices:
        if model not in self.models:
            raise KeyError(f"no prices for {model!r} in price table {self.version}; known: {', '.join(self.models)}")
        return self.models[model]


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The shipped table, or a user's JSON file with the same shape."""
    if path is None:
        document: dict[str, Any] = json.loads(
            (resources.files("nova_pipeline") / "evaluation" / "prices.json").read_text()
        )
    else:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    models = {
        name: ModelPrices(
            p["inputPer1kTokens"],
            p["outputPer1kTokens"],
            p.get("customModelStoragePerMonth", 0.0),
            p.get("trainingPer1kTokens", 0.0),
        )
        for name, p in document["models"].items()
    }
    instances = {name: float(price) for name, price in document.get("instancesPerHour", {}).items()}
    if path is None:
        return PriceTable(str(document.get("version", "custom")), models, instances)
    return PriceTable(str(document.get("version", "custom")), models, instances, source=f"the price file {path}")


def token_cost(prices: ModelPrices, input_tokens: float, output_tokens: float) -> float:
    return input_tokens / 1000 * prices.input_per_1k_tokens + output_tokens / 1000 * prices.output_per_1k_tokens


def monthly_cost(
    table: PriceTable,
    model: str,
    *,
    queries_per_month: int,
    input_tokens: float,
    output_tokens: float,
    custom_model: bool = True,
) -> dict[str, Any]:
    """The breakdown the CLI prints and the report shows."""
    prices = table.of(model)
    input_cost = queries_per_month * input_tokens / 1000 * prices.input_per_1k_tokens
    output_cost = queries_per_month * output_tokens / 1000 * prices.output_per_1k_tokens
    storage = prices.custom_model_storage_per_month if custom_model else 0.0
    return {
        "model": model,
        "priceTable": table.version,
        "priceSource": table.source,
        "queriesPerMonth": queries_per_month,
        "inputTokensPerQuery": input_tokens,
        "outputTokensPerQuery": output_tokens,
        "inputCost": round(input_cost, 6),
        "outputCost": round(output_cost, 6),
        "inferenceCost": round(input_cost + output_cost, 6),
        "storageCost": storage,
        "totalMonthly": round(input_cost + output_cost + storage, 6),
        "costPer1kRequests": round(token_cost(prices, input_tokens * 1000, output_tokens * 1000), 6),
    }
