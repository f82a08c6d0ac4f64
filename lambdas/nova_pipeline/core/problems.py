"""Problems a user can act on: where (file/line or JSON path), which field, and why."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input, located precisely enough to fix it without guessing."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def json_path(location: Iterable[int | str]) -> str:
    """Turn a pydantic error location ('dataset', 'columns', 0) into a JSON path ($.dataset.columns[0])."""
    path = "$"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def problems_from_validation_error(error: ValidationError, prefix: Sequence[int | str] = ()) -> list[Problem]:
    """Every error of a pydantic ValidationError as a Problem, in the order pydantic found them."""
    problems = []
    for detail in error.errors(include_url=False):
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "is not a known field (check the spelling; see the execution input reference)"
        elif detail["type"] == "missing":
            message = "is required"
        elif "input" in detail and detail["type"] not in ("model_type", "dict_type"):
            message = f"{message} (got {detail['input']!r})"
        problems.append(Problem(json_path([*prefix, *detail["loc"]]), message))
    return problems


class InputProblemsError(ValueError):
    """Raised with every problem found at once, so a user fixes them in one round trip."""

    def __init__(self, subject: str, problems: Sequence[Problem]) -> None:
        self.subject = subject
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{subject} has {len(self.problems)} problem(s):\n{lines}")
