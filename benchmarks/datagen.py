"""Deterministic synthetic datasets: text-to-SQL rows (sql-create-context style) and support tickets.

Used to write the small samples in examples/data and by the benchmarks (any size, streamed to disk).
    python benchmarks/datagen.py text-to-sql 400 examples/data/text-to-sql/train.csv
    python benchmarks/datagen.py tickets 400 examples/data/support-tickets/tickets.jsonl
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

TABLES = [
    ("head", "heads of departments", [("name", "VARCHAR"), ("born_state", "VARCHAR"), ("age", "INTEGER")]),
    ("employee", "employees", [("name", "VARCHAR"), ("city", "VARCHAR"), ("salary", "INTEGER"), ("age", "INTEGER")]),
    (
        "flight",
        "flights",
        [("origin", "VARCHAR"), ("destination", "VARCHAR"), ("distance", "INTEGER"), ("price", "REAL")],
    ),
    (
        "product",
        "products",
        [("product_name", "VARCHAR"), ("category", "VARCHAR"), ("price", "REAL"), ("stock", "INTEGER")],
    ),
    ("school", "schools", [("school_name", "VARCHAR"), ("county", "VARCHAR"), ("enrollment", "INTEGER")]),
    ("race", "races", [("race_name", "VARCHAR"), ("track", "VARCHAR"), ("laps", "INTEGER"), ("year", "INTEGER")]),
    ("album", "albums", [("title", "VARCHAR"), ("artist", "VARCHAR"), ("year", "INTEGER"), ("sales", "INTEGER")]),
]


WORDS = (
    "north",
    "river",
    "alpha",
    "gold",
    "lake",
    "maple",
    "stone",
    "summit",
    "harbor",
    "cedar",
    "violet",
    "ember",
    "orchid",
    "falcon",
    "prairie",
    "delta",
    "willow",
    "granite",
    "aurora",
    "sierra",
)


def _context(table: str, columns: list[tuple[str, str]]) -> str:
    return f"CREATE TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in columns)})"


def text_to_sql_rows(count: int, seed: int = 7) -> Iterator[dict[str, str]]:
    """`count` rows. Up to 5,000 rows (the committed samples) the draws are those the samples were made with; larger
    sets draw thresholds and names from a space that grows with the count, so that, as in real datasets, few rows
    are exact duplicates (about 1% at 1,000,000 rows)."""
    rng = random.Random(seed)
    large = count > 5000
    for _ in range(count):
        table, entity, columns = rng.choice(TABLES)
        numeric = [name for name, kind in columns if kind in ("INTEGER", "REAL")]
        text = [name for name, kind in columns if kind == "VARCHAR"]
        num, txt, n = rng.choice(numeric), rng.choice(text), rng.randint(2, max(5000, count))
        label, text_label = num.replace("_", " "), txt.replace("_", " ")
        value = f"{rng.choice(WORDS)} {rng.choice(WORDS)}".title()
        if large:
            value = f"{value} {rng.randint(1, 999)}"
        templates = [
            (f"How many {entity} have a {label} greater than {n}?", f"SELECT COUNT(*) FROM {table} WHERE {num} > {n}"),
            (
                f"What is the average {label} of {entity} with {text_label} {value}?",
                f"SELECT AVG({num}) FROM {table} WHERE {txt} = '{value}'",
            ),
            (
                f"List the {text_label} of {entity} whose {label} is below {n}.",
                f"SELECT {txt} FROM {table} WHERE {num} < {n}",
            ),
            (
                f"Which {text_label} has the highest {label} among those above {n}?",
                f"SELECT {txt} FROM {table} WHERE {num} > {n} ORDER BY {num} DESC LIMIT 1",
            ),
            (
                f"How many different {text_label} values are there among the {entity} with {label} at most {n}?",
                f"SELECT COUNT(DISTINCT {txt}) FROM {table} WHERE {num} <= {n}",
            ),
            (
                f"What are the maximum and minimum {label} of the {entity} with {text_label} {value}?",
                f"SELECT MAX({num}), MIN({num}) FROM {table} WHERE {txt} = '{value}'",
            ),
        ]
        question, answer = rng.choice(templates)
        yield {"question": question, "context": _context(table, columns), "answer": answer}


TICKETS = {
    "billing": [
        "I was charged twice for my {plan} subscription this month",
        "My invoice shows the wrong amount for the {plan} plan",
        "Please refund the duplicate payment on my card ending {digits}",
        "Why did the price of {plan} go up without notice?",
    ],
    "bug": [
        "The app crashes when I open the {screen} screen",
        "Export to {format} fails with an error since the last update",
        "The {screen} page shows a blank screen on {browser}",
        "Saving a report in {format} hangs forever",
    ],
    "feature_request": [
        "It would be great to export reports as {format}",
        "Please add a dark mode to the {screen} screen",
        "Could you support single sign-on with {provider}?",
        "I would like to schedule reports to run every {period}",
    ],
    "account": [
        "I cannot log in after resetting my password",
        "How do I change the e-mail address on my account?",
        "Please delete my account and all my data",
        "My two-factor codes from {provider} are not accepted",
    ],
    "other": ["Where is your office located?", "Do you have a partner programme in {country}?"],
}
FILLERS = {
    "plan": ["Pro", "Team", "Enterprise", "Starter"],
    "digits": ["4242", "1881", "0007"],
    "screen": ["dashboard", "settings", "billing", "reports"],
    "format": ["PDF", "CSV", "Excel"],
    "browser": ["Firefox", "Safari", "Chrome"],
    "provider": ["Okta", "Google", "Azure AD"],
    "period": ["week", "month", "day"],
    "country": ["Brazil", "Japan", "Kenya"],
}
WEIGHTS = {"billing": 30, "bug": 30, "feature_request": 20, "account": 17, "other": 3}


def ticket_rows(count: int, seed: int = 11) -> Iterator[dict[str, str]]:
    rng = random.Random(seed)
    labels = list(WEIGHTS)
    for index in range(count):
        label = rng.choices(labels, weights=[WEIGHTS[name] for name in labels])[0]
        text = rng.choice(TICKETS[label])
        for slot, values in FILLERS.items():
            text = text.replace("{" + slot + "}", rng.choice(values))
        yield {"text": f"{text} (ticket {1000 + index})", "label": label}


def main() -> None:
    kind, count, path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "text-to-sql":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["question", "context", "answer"])
            writer.writeheader()
            writer.writerows(text_to_sql_rows(count))
    else:
        with open(path, "w", encoding="utf-8") as handle:
            for row in ticket_rows(count):
                handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
