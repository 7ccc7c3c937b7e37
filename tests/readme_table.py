"""Render the README's configuration table from the Settings field descriptions."""

from __future__ import annotations

from pydantic_core import PydanticUndefined

from rag.settings import Settings


def _default(value: object) -> str:
    if value is PydanticUndefined or value is None or value == "":
        return ""
    return f"`{value}`"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias if isinstance(alias, str) else f"STRATA_{name.upper()}"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{variable}` | {_default(field.default)} | {description} |")
    return "\n".join(rows) + "\n"
