"""Writes examples/data/question-quality/questions.jsonl: a small Stack Overflow-style question-quality set
(HQ / LQ_EDIT / LQ_CLOSE) for the multi-stage example. Deterministic (fixed seed): running
`python examples/generate_question_quality.py` reproduces the committed file byte for byte.

- HQ: a focused question with what was tried and the error.
- LQ_EDIT: an answerable question that needs an edit (no formatting, missing details, shouting, typos).
- LQ_CLOSE: off topic, too broad, or a request for recommendations (closed without an edit).
About one question in ten is written in another class's style with its own label kept (reviewers disagree), so
no model reaches 100%.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 12
COUNT = 600
TOPICS = [
    ("python", "list comprehension", "TypeError: 'NoneType' object is not iterable"),
    ("javascript", "async function", "UnhandledPromiseRejectionWarning"),
    ("java", "HashMap iteration", "ConcurrentModificationException"),
    ("sql", "LEFT JOIN with GROUP BY", "column must appear in the GROUP BY clause"),
    ("c++", "std::vector of pointers", "segmentation fault (core dumped)"),
    ("go", "goroutine and channel", "fatal error: all goroutines are asleep - deadlock!"),
    ("rust", "borrow in a loop", "cannot borrow `x` as mutable more than once"),
    ("css", "flexbox centering", "the element stays at the top"),
    ("pandas", "groupby with apply", "ValueError: cannot reindex from a duplicate axis"),
    ("docker", "multi-stage build", "COPY failed: file not found in build context"),
    ("git", "rebase onto main", "CONFLICT (content): Merge conflict"),
    ("react", "useEffect dependency", "Maximum update depth exceeded"),
]
# Each question is an opening, a middle and a closing phrase of its class's style around a topic: the topic's words
# are shared by every class, so a model that learnt from few examples often matches on the topic instead of the
# style, and one that saw more examples of each style matches better (the simulated stages show this honestly).
HQ = (
    [
        'How do I fix "{error}" when using a {feature} in {lang}?',
        'Why does my {lang} {feature} raise "{error}"?',
        '{lang}: {feature} gives "{error}" only when the input is empty.',
        'What is the idiomatic way to avoid "{error}" with a {feature} in {lang}?',
    ],
    [
        "I read the documentation and tried checking the input first.",
        "I reduced it to a minimal reproducible example below.",
        "It works on version 2 but not on version 3, I compared both.",
        "I searched existing questions; the accepted answers do not cover this case.",
    ],
    [
        "What am I missing?",
        "Is this expected behaviour or a bug?",
        "The full traceback is included.",
        "Any pointer to the relevant part of the specification is welcome.",
    ],
)
LQ_EDIT = (
    [
        "{lang} {feature} not working!!!",
        "my {lang} code dont work with {feature}",
        "HELP {lang} {feature} ERROR",
        "{feature} problem in {lang}",
    ],
    [
        "getting {error} plz help",
        "error is {error} idk why",
        "it say {error} again and again",
        "{error} every time i run",
    ],
    [
        "asap urgent",
        "code below no formatting sorry",
        "thx in advance!!!",
        "pls fix my code",
    ],
)
LQ_CLOSE = (
    [
        "What is the best {lang} book for beginners?",
        "Can someone write a complete {lang} app with a {feature} for me?",
        "Which is better for a startup, {lang} or something else?",
        "Is {lang} dying in 2026?",
    ],
    [
        "Please recommend some tutorials or courses.",
        "Will pay for the whole project.",
        "Opinions and personal experiences welcome.",
        "What do you all think about its future?",
    ],
    [
        "Looking for a list of resources.",
        "Just curious what the community prefers.",
        "No code yet, just planning.",
        "Also any good YouTube channels?",
    ],
)
# Where the asker works: more words every class shares, so the style has to be learnt from enough examples.
SETTINGS = [
    "running in production on Linux servers with the latest stable release",
    "developing locally on Windows 11 inside Visual Studio Code",
    "inside a Docker container on a Kubernetes cluster in the cloud",
    "for a university assignment due next week on a shared lab machine",
    "on a legacy enterprise codebase that nobody has touched for years",
]
STYLES = {"HQ": HQ, "LQ_EDIT": LQ_EDIT, "LQ_CLOSE": LQ_CLOSE}


def rows(seed: int = SEED, count: int = COUNT) -> list[dict[str, str]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible example data, not security
    labels = list(STYLES)
    out = []
    for index in range(count):
        label = labels[index % len(labels)]
        style = rng.choice(labels) if rng.random() < 0.1 else label
        lang, feature, error = rng.choice(TOPICS)
        where = rng.choice(SETTINGS)
        parts = [rng.choice(pool) for pool in STYLES[style]]
        text = " ".join(parts).format(lang=lang, feature=feature, error=error) + f" ({where})"
        out.append({"question": f"{text} [q{index + 1000}]", "label": label})
    rng.shuffle(out)
    return out


def main() -> None:
    target = Path(__file__).parent / "data" / "question-quality" / "questions.jsonl"
    target.write_text("".join(json.dumps(row) + "\n" for row in rows()), encoding="utf-8")


if __name__ == "__main__":
    main()
