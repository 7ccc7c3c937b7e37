"""Shape checks of the JSON schemas a request carries (tool inputs, structured outputs).

The API compiles these schemas before it answers, so a malformed one is a 400, never a crash.
"""

from __future__ import annotations

from typing import Any

from api.emulator.errors import invalid

_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf")
_COUNTS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_MAX_DEPTH = 64


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _resolves(ref: Any, root: dict[str, Any]) -> bool:
    if not isinstance(ref, str) or not ref.startswith("#"):
        return False
    target: Any = root
    for part in [p for p in ref[1:].split("/") if p]:
        if not isinstance(target, dict) or part not in target:
            return False
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return isinstance(target, dict)


def _check(schema: Any, root: dict[str, Any], path: str, depth: int) -> None:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        raise invalid(f"{path}: a JSON schema must be an object")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    if any(not isinstance(k, str) or k not in _TYPES for k in kinds):
        raise invalid(f"{path}.type: unknown JSON schema type {kind!r}")
    if "$ref" in schema and not _resolves(schema["$ref"], root):
        raise invalid(f"{path}.$ref: reference {schema['$ref']!r} does not resolve")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise invalid(f"{path}.properties: must be an object of schemas")
    for name, sub in properties.items():
        _check(sub, root, f"{path}.properties.{name}", depth + 1)
    for key in ("$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            _check(sub, root, f"{path}.{key}.{name}", depth + 1)
    if "items" in schema:
        _check(schema["items"], root, f"{path}.items", depth + 1)
    for key in _SCHEMA_LISTS:
        if key in schema:
            options = schema[key]
            if not isinstance(options, list) or not options:
                raise invalid(f"{path}.{key}: must be a non-empty list of schemas")
            for i, sub in enumerate(options):
                _check(sub, root, f"{path}.{key}.{i}", depth + 1)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise invalid(f"{path}.required: must be a list of property names")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        raise invalid(f"{path}.enum: must be a non-empty list")
    for key in _COUNTS:
        if key in schema and not (isinstance(schema[key], int) and schema[key] >= 0):
            raise invalid(f"{path}.{key}: must be a non-negative integer")
    for key in _BOUNDS:
        if key in schema and not _is_number(schema[key]):
            raise invalid(f"{path}.{key}: must be a number")


def check_schema(schema: Any, path: str) -> None:
    """Refuse a schema the emulator could not answer for, naming where it breaks."""
    if not isinstance(schema, dict):
        raise invalid(f"{path}: a JSON schema must be an object")
    _check(schema, schema, path, 0)
