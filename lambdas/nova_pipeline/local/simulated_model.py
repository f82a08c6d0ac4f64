"""The simulated models of the offline twin. SIMULATED: no Amazon Nova model runs here.

- `CustomizedModel` learns from the training split it is given: it answers with the answer of the most similar
  training prompt (token-overlap nearest neighbour), adapting table names for text-to-SQL. Deterministic.
- `BaseModel` is the un-customized model as users meet it: it knows the task only from the prompt and ignores the
  requested output format (verbose answers around a guess). Its general capability is a skill, not an answer key:
  it works out multiple-choice questions of the kinds of the shipped general set (arithmetic, units, sequences,
  comparisons, spelling) and, for any other question, picks the choice sharing most words with it.
- A customized model has only what it learned: on a general question it answers like its nearest training example,
  so tuning on task data alone forgets general capability, which the forgetting guard measures.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_TOKEN = re.compile(r"[a-z0-9_]+")
_TABLE = re.compile(r"create\s+table\s+[`\"']?([a-zA-Z_][\w]*)", re.IGNORECASE)
_LABEL_LIST = re.compile(r"(?:one of|labels?|categories)\s*[:\-]?\s*([\w\s,|/]+?)(?:\.|$)", re.IGNORECASE)

SIMULATED_LABEL = "SIMULATED (offline twin: no Amazon Nova model was called)"


def tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def estimate_tokens(text: str) -> int:
    """Token count reported by the simulator (about 4 characters a token, at least 1)."""
    return max(1, (len(text) + 3) // 4)


@dataclass(frozen=True)
class Example:
    system: str
    prompt: str
    answer: str
    prompt_tokens: frozenset[str] = field(default_factory=frozenset)


def examples_from_jsonl(lines: Iterable[str]) -> list[Example]:
    """Training examples from prepared records: bedrock-conversation-2024, RFT chat records or prompt-only ones."""
    examples = []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        system, prompt, answer = "", "", ""
        if "schemaVersion" in record:
            system = " ".join(block.get("text", "") for block in record.get("system", []))
            for message in record.get("messages", []):
                text = " ".join(block.get("text", "") for block in message.get("content", []))
                if message["role"] == "user":
                    prompt = text
                elif message["role"] == "assistant":
                    answer = text
        else:
            for message in record.get("messages", []):
                if message["role"] == "system":
                    system = str(message["content"])
                elif message["role"] == "user":
                    prompt = str(message["content"])
            reference = record.get("reference_answer", "")
            answer = reference if isinstance(reference, str) else json.dumps(reference)
        examples.append(Example(system, prompt, answer, frozenset(tokens(f"{system} {prompt}"))))
    return examples


def _table_name(system: str) -> str | None:
    match = _TABLE.search(system)
    return match.group(1) if match else None


class CustomizedModel:
    """Nearest neighbour on token overlap over the training examples (Jaccard similarity, ties by order)."""

    def __init__(self, examples: list[Example]) -> None:
        self.examples = [example for example in examples if example.answer]

    def answer(self, system: str, prompt: str) -> str:
        if not self.examples:
            return ""
        query = tokens(f"{system} {prompt}")
        best, best_score = self.examples[0], -1.0
        for example in self.examples:
            union = len(query | example.prompt_tokens) or 1
            score = len(query & example.prompt_tokens) / union
            if score > best_score:
                best, best_score = example, score
        answer = best.answer
        learned_table = _table_name(f"{best.system}\n{best.prompt}")
        asked_table = _table_name(f"{system}\n{prompt}")
        if learned_table and asked_table and learned_table != asked_table:
            answer = re.sub(rf"\b{re.escape(learned_table)}\b", asked_table, answer)
        return _carry_literals(answer, learned=_question(best.prompt), asked=_question(prompt))


def _question(prompt: str) -> list[str]:
    """The words of a prompt's question (after its `<context>` block), trailing punctuation dropped."""
    text = prompt.rsplit("</context>", 1)[-1]
    return [word.strip("?.,!;:") for word in text.split()]


def _carry_literals(answer: str, *, learned: list[str], asked: list[str]) -> str:
    """What the nearest example taught about copying: where the two questions differ (aligned word by word), a
    literal of the learned question that its answer repeats (a number, or a quoted string) becomes the asked one."""
    matcher = difflib.SequenceMatcher(a=learned, b=asked, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace":
            continue
        old, new = " ".join(learned[i1:i2]), " ".join(asked[j1:j2])
        if not old or not new:
            continue
        if re.fullmatch(r"-?\d+(\.\d+)?", old) and re.fullmatch(r"-?\d+(\.\d+)?", new):
            answer = re.sub(rf"(?<![\w.]){re.escape(old)}(?![\w.])", new, answer)
        else:
            answer = answer.replace(f"'{old}'", "'" + new.replace("'", "''") + "'")
    return answer


class BaseModel:
    """The base model as seen before customization: right-ish guesses wrapped in verbose prose."""

    def answer(self, system: str, prompt: str) -> str:
        if "<SCORE>" in prompt and "Candidate answer:" in prompt:
            return self._judge(prompt)
        if _CHOICE_INSTRUCTION in prompt:
            return self._multiple_choice(prompt)
        table = _table_name(f"{system}\n{prompt}")  # the schema: in the user turn's context
        if table or "sql" in system.lower():
            return (
                "Sure! Here is a SQL query that should answer your question:\n\n"
                f"```sql\nSELECT * FROM {table or 'table_name'};\n```\n\n"
                "This query retrieves all rows so that you can find the information you are looking for."
            )
        labels = self._labels(system)
        if labels:
            question = tokens(prompt)
            scored = sorted(labels, key=lambda label: (-len(tokens(label.replace("_", " ")) & question), label))
            return (
                f"Based on the text provided, I would classify this as **{scored[0]}**. "
                "The message contains several cues that point to this category, although other categories "
                "could also apply depending on context."
            )
        return f"That is an interesting question. Let me think about it step by step. {prompt.strip()} ..."

    @staticmethod
    def _multiple_choice(prompt: str) -> str:
        question = prompt.split("\n", 1)[0]
        choices = dict(re.findall(r"(?m)^([A-J])\. (.*)$", prompt))
        worked = _work_out(question)
        for letter, text in choices.items():
            if worked is not None and text.strip() == worked:
                return f"The answer is ({letter})."
        asked = tokens(question)
        best = max(sorted(choices), key=lambda letter: len(tokens(choices[letter]) & asked), default="A")
        return f"I think the answer is ({best})."

    @staticmethod
    def _judge(prompt: str) -> str:
        """As a judge: token overlap of the candidate with the reference, as a 0-100 score in tags."""
        reference = prompt.split("Reference answer:", 1)[1].split("Candidate answer:", 1)[0]
        candidate = prompt.split("Candidate answer:", 1)[1].split("\n\n", 1)[0]
        expected, got = tokens(reference), tokens(candidate)
        score = round(100 * len(expected & got) / len(expected | got)) if expected | got else 0
        return f"The candidate overlaps the reference by {score}%. <SCORE>{score}</SCORE>"

    @staticmethod
    def _labels(system: str) -> list[str]:
        match = _LABEL_LIST.search(system)
        if not match:
            return []
        candidates = re.split(r"[,|/]|\bor\b", match.group(1))
        return [c.strip() for c in candidates if c.strip() and len(c.strip().split()) == 1]


_CHOICE_INSTRUCTION = "Answer with the letter of the correct choice only."


def _work_out(question: str) -> str | None:  # noqa: PLR0911 - one rule per kind of question
    """The base model's skill on the shipped general set's kinds of question."""
    numbers = [int(n) for n in re.findall(r"\d+", question)]
    if m := re.fullmatch(r"What is (\d+) \+ (\d+)\?", question):
        return str(int(m[1]) + int(m[2]))
    if m := re.fullmatch(r"What is (\d+) times (\d+)\?", question):
        return str(int(m[1]) * int(m[2]))
    if m := re.fullmatch(r"What is (\d+) minus (\d+)\?", question):
        return str(int(m[1]) - int(m[2]))
    if question.startswith("Which of these numbers is the largest") and numbers:
        return str(max(numbers))
    if m := re.fullmatch(r"How many minutes are in (\d+) hours\?", question):
        return str(int(m[1]) * 60)
    if m := re.fullmatch(r"How many letters are in the word '(\w+)'\?", question):
        return str(len(m[1]))
    if question.startswith("What number comes next") and len(numbers) >= 2:
        return str(numbers[-1] + numbers[-1] - numbers[-2])
    if m := re.fullmatch(r"Which letter comes right after '([A-Y])' in the English alphabet\?", question):
        return chr(ord(m[1]) + 1)
    return None
