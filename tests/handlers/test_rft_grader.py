"""RftGrader handler: the event Bedrock / SageMaker send (a list of samples, record fields at the top level)."""

from __future__ import annotations

from tests.handlers.conftest import FakeLambdaContext, HandlerModule

grader = HandlerModule("rft_grader")

CONTEXT = "CREATE TABLE head (age INTEGER, name VARCHAR)"
RECORD = {
    "messages": [
        {"role": "system", "content": f"Answer in SQL. Schema: {CONTEXT}"},
        {"role": "user", "content": "How many heads are older than 56?"},
    ],
    "reference_answer": "SELECT count(*) FROM head WHERE age > 56",
    "task": "text-to-sql",
    "grader": "sql-execution",
    "context": CONTEXT,
}


def sample(sample_id: str, answer: str) -> dict[str, object]:
    return {**RECORD, "id": sample_id, "messages": [*RECORD["messages"], {"role": "assistant", "content": answer}]}


def test_the_documented_event_is_scored_against_the_top_level_reference(lambda_context: FakeLambdaContext) -> None:
    event = [sample("a", "SELECT COUNT(name) FROM head WHERE age >= 57"), sample("b", "SELECT 1")]

    results = grader.lambda_handler(event, lambda_context)

    assert [(r["id"], r["aggregate_reward_score"]) for r in results] == [("a", 1.0), ("b", 0.0)]
    assert all({m["type"] for m in r["metrics_list"]} == {"Reward", "Metric"} for r in results)
