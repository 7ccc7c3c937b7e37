"""Values that validate against a JSON schema, filled from the question and its answer.

Covers what tool input schemas and structured-output schemas use: $ref/$defs, anyOf/oneOf/
allOf, enum, const, type lists, objects, arrays with item bounds, strings with length bounds
and the common formats, numbers with bounds and multipleOf, booleans and null. `pattern` is
not honoured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "duration": "PT1M",
    "email": "user@example.com",
    "hostname": "example.com",
    "uri": "https://example.com/",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_QUERY_NAMES = ("query", "search", "question", "keyword", "term", "q")
_ANSWER_NAMES = ("answer", "summary", "text", "response", "content", "explanation", "reason")


@dataclass(frozen=True, slots=True)
class Hints:
    """What the generated values are filled with."""

    question: str
    answer: str
    sources: tuple[str, ...]
    confident: bool


def instance_for(schema: Any, hints: Hints) -> Any:
    """A value valid against schema."""
    root = schema if isinstance(schema, dict) else {}
    return _value(root, root, hints, "", 0)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = str(schema["$ref"])
        target: Any = root
        for part in ref.lstrip("#").strip("/").split("/") if ref != "#" else []:
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _value(schema: Any, root: dict[str, Any], hints: Hints, name: str, depth: int) -> Any:
    if not isinstance(schema, dict):
        return None
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [_resolve(o, root) for o in schema[key]]
            chosen = next((o for o in options if o.get("type") != "null"), options[0])
            return _value(chosen, root, hints, name, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
            merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
        return _value(merged, root, hints, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    builder = _BUILDERS.get(kind)
    return builder(schema, root, hints, name, depth) if builder else None


def _object(schema: dict[str, Any], root: dict[str, Any], hints: Hints, _: str, depth: int) -> Any:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    names = list(properties) if depth < 6 else [n for n in properties if n in required]
    return {n: _value(properties[n], root, hints, n, depth + 1) for n in names}


def _array(
    schema: dict[str, Any], root: dict[str, Any], hints: Hints, name: str, depth: int
) -> Any:
    low = int(schema.get("minItems", 0))
    high = schema.get("maxItems")
    items = schema.get("items") or {}
    lowered = name.lower()
    if "source" in lowered and _resolve(items, root).get("type", "string") == "string":
        values: list[Any] = list(hints.sources)
    else:
        values = [_value(items, root, hints, name, depth + 1)]
    while len(values) < low:
        values.append(values[-1] if values else _value(items, root, hints, name, depth + 1))
    if high is not None:
        values = values[: int(high)]
    if schema.get("uniqueItems") and len({repr(v) for v in values}) < len(values):
        values = values[:1]
    return values


def _string(schema: dict[str, Any], _root: dict[str, Any], hints: Hints, name: str, _d: int) -> Any:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    lowered = name.lower()
    if any(part in lowered for part in _QUERY_NAMES):
        text = hints.question
    elif "source" in lowered or "url" in lowered:
        text = hints.sources[0] if hints.sources else hints.question
    elif any(part in lowered for part in _ANSWER_NAMES) or not lowered:
        text = hints.answer
    else:
        text = hints.answer or hints.question
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    text = text or "n/a"
    while len(text) < low:
        text += " " + text
    return text if high is None else text[: int(high)]


def _number(schema: dict[str, Any], _root: dict[str, Any], hints: Hints, _n: str, _d: int) -> Any:
    integer = schema.get("type") == "integer" or (
        isinstance(schema.get("type"), list) and "integer" in schema["type"]
    )
    step = schema.get("multipleOf")
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        value = low + (high - low) * (0.8 if hints.confident else 0.2)
    elif low is not None:
        value = low + 1
    elif high is not None:
        value = high - 1
    else:
        value = 1
    if step:
        value = math.ceil(value / step) * step
    return round(value) if integer else float(value)


def _boolean(_s: dict[str, Any], _r: dict[str, Any], hints: Hints, _n: str, _d: int) -> Any:
    return hints.confident


def _null(_s: dict[str, Any], _r: dict[str, Any], _h: Hints, _n: str, _d: int) -> Any:
    return None


_BUILDERS = {
    "object": _object,
    "array": _array,
    "string": _string,
    "integer": _number,
    "number": _number,
    "boolean": _boolean,
    "null": _null,
}
