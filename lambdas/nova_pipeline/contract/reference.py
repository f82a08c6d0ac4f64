"""The execution input reference, generated from the pydantic model so that the documentation cannot drift."""

from __future__ import annotations

import json
import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from nova_pipeline.contract.catalog import HYPERPARAMETER_ALIASES, HYPERPARAMETER_RULES
from nova_pipeline.contract.execution_input import ExecutionInput


def _type_name(annotation: Any) -> str:  # noqa: PLR0911 - one return per kind of annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is dict:
        return "object"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{member.value}`" for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "**required**"
    default = field.default
    if default is PydanticUndefined or isinstance(default, BaseModel):
        return ""
    if isinstance(default, Enum):
        default = default.value
    return f"`{json.dumps(default)}`"


def field_rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    """One Markdown table row per field of `model` (nested models flattened to dotted paths)."""
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        description = (field.description or "").replace("\n", " ").replace("|", "\\|")
        description = " ".join(description.split())
        rows.append(f"| `{path}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
        annotation = field.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # an optional object: `X | None`
            annotation = next((a for a in typing.get_args(annotation) if a is not type(None)), annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(field_rows(annotation, f"{path}."))
    return rows


def _hyperparameter_rows() -> list[str]:
    rows = []
    for (platform, scope), rules in HYPERPARAMETER_RULES.items():
        for rule in rules:
            default = "" if rule.default is None else f"`{rule.default}`"
            where = f"`{rule.recipe_path}`" if rule.recipe_path else ""
            note = " ".join(part for part in (rule.description, where) if part).replace("|", "\\|")
            rows.append(f"| {platform.value} | {scope.value} | `{rule.name}` | {rule.allowed()} | {default} | {note} |")
    return rows


def execution_input_reference() -> str:
    """Markdown tables: every field of the execution input, then the hyperparameters per platform and method."""
    lines = [
        "# Execution input reference",
        "",
        "Generated from `lambdas/nova_pipeline/contract/execution_input.py` by `nova-pipeline input-reference`; a test",
        "keeps this file equal to the model. Unknown fields are errors; every problem is reported at once with its",
        "JSON path.",
        "",
        "| Field | Type | Default | Description |",
        "|---|---|---|---|",
        *field_rows(ExecutionInput),
        "",
        "## Hyperparameters",
        "",
        "Values may be numbers or numeric strings; defaults are filled in. Aliases: "
        + ", ".join(f"`{alias}` → `{name}`" for alias, name in HYPERPARAMETER_ALIASES.items())
        + ".",
        "",
        "On SageMaker the rules depend on the recipe family of the model and method (`nova-1-sft`: Nova Micro / Lite /",
        "Pro SFT; `nova-2-sft`: Nova 2 Lite SFT; `nova-2-rft`: Nova 2 Lite RFT); each value is written at its recipe",
        "path, which the recipe must have.",
        "",
        "| Platform | Method or recipe family | Name | Allowed | Default | Notes (SageMaker: recipe path) |",
        "|---|---|---|---|---|---|",
        *_hyperparameter_rows(),
        "",
    ]
    return "\n".join(lines)
