"""The OpenAPI document, built from the actors' message Structs although handlers pass bytes through.

Litestar documents a request body only for a handler's `data` parameter, and declaring one would
make Litestar decode and validate the body too, a second validator with its own error format. So:
- request bodies and query parameters come from msgspec's JSON Schema of the actor's request
  Struct, set by a per-route `operation_class` (Litestar's hook for customising an Operation);
- replies are `responses={status: ResponseSpec(...)}` over envelope Structs made per reply type,
  which Litestar turns into named component schemas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, get_type_hints

import msgspec
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
    SecurityScheme,
)

from edge.endpoint import Endpoint
from edge.errors import ErrorEnvelope

BEARER = "bearer"
_SCHEMA_FIELDS = {f.name for f in fields(Schema)}


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="loan-actors",
        version="0.1.0",
        description="Loan back office: REST edge over NATS actors. Errors use one envelope.",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin()],
        components=Components(
            security_schemes={BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
        ),
    )


def docs_for(ep: Endpoint) -> dict[str, Any]:
    """Keyword arguments for the route handler that document `ep`."""
    return {
        "operation_id": ep.subject.replace(".", "_"),
        "summary": ep.message,
        "description": f"Answered by the NATS subject `{ep.subject}`.",
        "tags": [ep.subject.split(".", 1)[0]],
        "security": None if ep.public else [{BEARER: []}],
        "responses": _responses(ep),
        "operation_class": _operation_class(ep),
    }


def _responses(ep: Endpoint) -> dict[int, ResponseSpec]:
    specs = {status: ResponseSpec(_success_type(ep), description=ep.message) for status in ep.statuses}
    errors = {
        400: "Invalid input",
        429: "Too many requests from this client (Retry-After says when to try again)",
        503: "No worker available, or the service's database is down",
        504: "No answer in time",
    }
    if not ep.public:
        errors |= {401: "Missing or invalid bearer token", 403: "Not allowed for this role"}
    if ep.path_params:
        errors[404] = "No such resource (or not a UUID)"
    if ep.method != "GET":
        errors[409] = "Conflicts with the current state, or an Idempotency-Key reused for another request"
    if ep.has_body:
        errors[413] = "Body over the size limit"
    errors |= ep.errors
    specs |= {status: ResponseSpec(ErrorEnvelope, description=text) for status, text in errors.items()}
    return specs


def _success_type(ep: Endpoint) -> Any:
    if ep.raw or ep.reply is None:
        return dict[str, Any]
    if ep.listing:
        return _page_envelope(get_type_hints(ep.reply)["data"])
    return _envelope(ep.reply)


@cache  # one class per reply type: two classes of one name would clash in the components
def _envelope(reply: Any) -> type[msgspec.Struct]:
    name = f"{getattr(reply, '__name__', 'Reply')}Envelope"
    return msgspec.defstruct(name, [("success", bool), ("message", str), ("data", reply)], module=__name__)


@cache
def _page_envelope(items: Any) -> type[msgspec.Struct]:
    item = items.__args__[0] if getattr(items, "__args__", None) else items
    parts = [("success", bool), ("message", str), ("data", items)]
    parts += [("count", int), ("page", int), ("page_size", int)]
    return msgspec.defstruct(f"{getattr(item, '__name__', 'Item')}List", parts, module=__name__)


def _operation_class(ep: Endpoint) -> type[Operation]:
    body: Schema | None = None
    query: list[Parameter] = []
    if ep.request is not None:
        struct = _struct_schema(ep.request)
        if ep.has_body:
            body = _without(struct, ep.path_params)
        properties = struct.properties or {}
        required = set(struct.required or ())
        query = [
            Parameter(name=n, param_in="query", required=n in required, schema=_non_null(properties[n]))
            for n in ep.query_params
            if isinstance(properties.get(n), Schema)
        ]

    @dataclass
    class ForwardedOperation(Operation):
        def __post_init__(self) -> None:
            for param in self.parameters or []:
                if isinstance(param, Parameter) and param.param_in == "path" and param.name in ep.path_params:
                    kind = OpenAPIFormat.DATE if param.name in ep.date_params else OpenAPIFormat.UUID
                    param.schema = Schema(type=OpenAPIType.STRING, format=kind)
            for status in ep.statuses if ep.also_as else ():
                success = (self.responses or {}).get(str(status))
                if isinstance(success, OpenAPIResponse):
                    text = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
                    success.content = {**(success.content or {}), **dict.fromkeys(ep.also_as, text)}
            if body is not None:
                media = OpenAPIMediaType(schema=body)
                self.request_body = RequestBody(content={"application/json": media}, required=True)
            if query:
                self.parameters = [*(self.parameters or []), *query]

    return ForwardedOperation


def _struct_schema(struct: type[msgspec.Struct]) -> Schema:
    raw = msgspec.json.schema(struct)
    return to_schema(raw, raw.get("$defs", {}))


def to_schema(js: dict[str, Any], defs: dict[str, Any]) -> Schema:
    """A Litestar Schema from a msgspec JSON Schema dict, `$ref`s inlined (messages are not recursive)."""
    if "$ref" in js:
        return to_schema(defs[js["$ref"].rsplit("/", 1)[1]], defs)
    kwargs: dict[str, Any] = {}
    for key, value in js.items():
        name = re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()  # maxLength → max_length
        if key == "type":
            value = [OpenAPIType(t) for t in value] if isinstance(value, list) else OpenAPIType(value)
        elif key == "properties":
            value = {k: to_schema(v, defs) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = to_schema(value, defs)
        elif key in ("anyOf", "oneOf", "allOf"):
            value = [to_schema(v, defs) for v in value]
        if name in _SCHEMA_FIELDS:
            kwargs[name] = value
    return Schema(**kwargs)


def _without(struct: Schema, names: tuple[str, ...]) -> Schema:
    """The body schema without the fields the path supplies."""
    if not names:
        return struct
    props = {k: v for k, v in (struct.properties or {}).items() if k not in names}
    required = [r for r in struct.required or () if r not in names]
    return Schema(type=struct.type, title=struct.title, properties=props, required=required)


def _non_null(schema: Schema | Any) -> Schema:
    # An absent query parameter is the Struct's null default: document the non-null type.
    if isinstance(schema, Schema) and schema.any_of:
        kept = [s for s in schema.any_of if not (isinstance(s, Schema) and s.type == OpenAPIType.NULL)]
        if len(kept) == 1 and isinstance(kept[0], Schema):
            return Schema(**{**_set_fields(kept[0]), "default": schema.default})
    return schema if isinstance(schema, Schema) else Schema()


def _set_fields(schema: Schema) -> dict[str, Any]:
    return {f: getattr(schema, f) for f in _SCHEMA_FIELDS if getattr(schema, f) is not None}
