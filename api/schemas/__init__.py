"""Pydantic models of request and response bodies."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel


def in_model_order(value: Any, model: type[BaseModel]) -> Any:
    """`value` (JSON from the database, whose jsonb sorts keys by length) with its keys in the order the model
    declares them, nested models included; keys the model does not know follow. Only the order changes."""
    if not isinstance(value, dict):
        return value
    ordered: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in value:
            ordered[name] = _nested(value[name], field.annotation)
    return ordered | {key: item for key, item in value.items() if key not in ordered}


def _nested(value: Any, hint: Any) -> Any:
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return in_model_order(value, candidate)
        inner = typing.get_args(candidate)
        if typing.get_origin(candidate) is list and inner and isinstance(inner[0], type) \
                and issubclass(inner[0], BaseModel) and isinstance(value, list):
            return [in_model_order(item, inner[0]) for item in value]
    return value
