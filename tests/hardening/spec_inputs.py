"""Read the live OpenAPI spec into test inputs: operations, example bodies and the fields inside them.

The hardening tests are generated from this, so a route that lands later is covered without editing
the tests. Only what the spec says is used; nothing here knows a particular domain.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from app.main import create_app
from app.settings import Settings

METHODS = ("get", "post", "put", "patch", "delete")
PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics"}


def build_spec() -> dict[str, Any]:
    """Return the live spec of an app with default development settings."""
    return create_app(Settings(database_url="sqlite:///:memory:")).openapi()


SPEC = build_spec()
COMPONENTS: dict[str, Any] = SPEC.get("components", {}).get("schemas", {})


def resolve(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Follow `$ref`s (and a single non-null `anyOf` branch) to the schema that describes a value."""
    schema = schema or {}
    for _ in range(20):
        if "$ref" in schema:
            schema = COMPONENTS[schema["$ref"].rsplit("/", 1)[-1]]
            continue
        options = [o for o in schema.get("anyOf", schema.get("oneOf", [])) if o.get("type") != "null"]
        if len(options) == 1 and "properties" not in schema:
            schema = {**{k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}, **options[0]}
            continue
        break
    return schema


def example_of(schema: dict[str, Any] | None) -> Any:
    """Return the first documented example of a (resolved) schema, or None."""
    target = resolve(schema)
    if target.get("examples"):
        examples = target["examples"]
        return copy.deepcopy(examples[0] if isinstance(examples, list) else next(iter(examples.values())))
    if "example" in target:
        return copy.deepcopy(target["example"])
    return None


@dataclass
class Operation:
    """One operation of the spec, with what a test needs to call it."""

    method: str
    path: str
    op: dict[str, Any]
    body_media_type: str | None = None
    body_schema: dict[str, Any] | None = None
    example: Any = None
    header_params: list[dict[str, Any]] = field(default_factory=list)
    query_params: list[dict[str, Any]] = field(default_factory=list)
    path_params: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """`METHOD /path`, the test id."""
        return f"{self.method.upper()} {self.path}"

    @property
    def scopes(self) -> list[str]:
        """The scopes that admit the caller (any one)."""
        return list(self.op.get("x-required-scopes") or [])

    def url(self, **path_values: str) -> str:
        """The path with every parameter filled in (a fresh UUID or a plain id unless given)."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in path_values:
                return path_values[name]
            param = next((p for p in self.path_params if p["name"] == name), {})
            fmt = resolve(param.get("schema")).get("format")
            return str(uuid.uuid4()) if fmt == "uuid" else f"hardening-{uuid.uuid4().hex[:8]}"

        return re.sub(r"\{([^}]+)\}", fill, self.path)

    def headers(self) -> dict[str, str]:
        """Headers the operation needs to reach body validation (`If-Match` on versioned actions)."""
        out = {}
        for param in self.header_params:
            if param["name"].lower() == "if-match":
                out["If-Match"] = '"1"'
        return out


def operations() -> list[Operation]:
    """Every operation in the spec."""
    out = []
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            operation = Operation(method=method, path=path, op=op)
            for param in op.get("parameters", []):
                {"header": operation.header_params, "query": operation.query_params, "path": operation.path_params}.get(
                    param["in"], []
                ).append(param)
            content = op.get("requestBody", {}).get("content", {})
            for media_type, media in content.items():
                operation.body_media_type = media_type
                operation.body_schema = media.get("schema")
                operation.example = media.get("example", example_of(media.get("schema")))
                break
            out.append(operation)
    return out


OPERATIONS = operations()
PROTECTED = [o for o in OPERATIONS if o.path not in PUBLIC_PATHS and o.scopes]
JSON_BODY = [o for o in OPERATIONS if o.body_media_type == "application/json"]
ANY_BODY = [o for o in OPERATIONS if o.body_media_type]
LISTS = [o for o in PROTECTED if any(p["name"] == "limit" for p in o.query_params)]
UUID_PATHS = [
    (o, p["name"]) for o in PROTECTED for p in o.path_params if resolve(p.get("schema")).get("format") == "uuid"
]


def _is_plain_string(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and not {"enum", "const", "format"} & set(schema)


@dataclass(frozen=True)
class FieldRef:
    """A field inside an example body: its path (keys and list indexes) and its schema."""

    path: tuple[Any, ...]
    schema: dict[str, Any]

    @property
    def name(self) -> str:
        """The dotted name the problem's `errors[].field` uses, e.g. `body.author.id`."""
        return ".".join(["body", *(str(p) for p in self.path)])


def walk_fields(schema: dict[str, Any] | None, value: Any, prefix: tuple[Any, ...] = ()) -> list[FieldRef]:
    """Every field present in `value` (an example), with its resolved schema."""
    schema = resolve(schema)
    found: list[FieldRef] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            prop = resolve(schema.get("properties", {}).get(key))
            found.append(FieldRef((*prefix, key), prop))
            found += walk_fields(prop, sub, (*prefix, key))
    elif isinstance(value, list) and value:
        found += walk_fields(schema.get("items"), value[0], (*prefix, 0))
    return found


def string_fields(operation: Operation) -> list[FieldRef]:
    """Free-text string fields of the operation's example body."""
    return [f for f in walk_fields(operation.body_schema, operation.example) if _is_plain_string(f.schema)]


def datetime_fields(operation: Operation) -> list[FieldRef]:
    """Date-time fields of the operation's example body."""
    return [f for f in walk_fields(operation.body_schema, operation.example) if f.schema.get("format") == "date-time"]


def object_paths(operation: Operation) -> list[tuple[Any, ...]]:
    """The body itself and every nested object of the example, as paths."""
    paths: list[tuple[Any, ...]] = [()]
    for ref in walk_fields(operation.body_schema, operation.example):
        if resolve(ref.schema).get("type") == "object" or "properties" in resolve(ref.schema):
            paths.append(ref.path)
    return paths


def with_value(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of `body` with the field at `path` set to `value`."""
    out = copy.deepcopy(body)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def get_value(body: Any, path: tuple[Any, ...]) -> Any:
    """The value at `path`."""
    for key in path:
        body = body[key]
    return body
