"""One REST route → one NATS subject, described as data; and the pure byte work around a call.

The edge holds no business rule: bodies go to the actor as the client sent them, and the actor's
decoder is the only validator. The edge only adds what the URL carries (path ids, query strings)
and wraps the reply in the envelope by splicing bytes, never re-parsing it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import msgspec
import msgspec.inspect

from actors.contracts.errors import BadRequest, NotFound

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
PAGE_FIELDS = frozenset({"data", "count", "page", "page_size"})

# Numbers keep their exact digits through decode → re-encode (a principal must never be rounded).
_object_decoder = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")


@dataclass
class Endpoint:
    """A route of api.md and the subject that answers it."""

    method: Method
    path: str  # relative to its router; a `{name}` is a UUID, or a date where the request's field is one
    subject: str
    message: str  # the envelope's "message" on success
    request: type[msgspec.Struct] | None = None  # the actor's request Struct: docs, and which query params
    reply: Any = None  # the actor's reply type, for the docs
    status: int = 200
    public: bool = False  # no bearer token needed
    raw: bool = False  # answer the reply as it is, without the envelope (the JWKS)
    slow: bool = False  # hashes a password: one attempt may take the whole deadline (edge/retry.py)
    errors: dict[int, str] = field(default_factory=dict)  # statuses of its own, for the docs
    # The success status read from a field of the reply, where the actor's answer decides it
    # (servicing.run_cob: 202 while the run is RUNNING, 200 when there was nothing to do):
    # (field, {value: status}); any other value, or none, is `status`.
    status_by: tuple[str, Mapping[str, int]] | None = None
    # Other media types the success may come in, for the docs (the portfolio as text/csv).
    also_as: tuple[str, ...] = ()

    path_params: tuple[str, ...] = field(init=False)
    date_params: frozenset[str] = field(init=False)  # path parameters that are dates, not UUIDs
    query_params: tuple[str, ...] = field(init=False)
    int_params: frozenset[str] = field(init=False)
    has_body: bool = field(init=False)
    listing: bool = field(init=False)
    _head: bytes = field(init=False, repr=False)
    _status_decoder: msgspec.json.Decoder[Any] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.path_params = tuple(re.findall(r"{(\w+)}", self.path))
        self.date_params = _fields_of(self.request, msgspec.inspect.DateType) & frozenset(self.path_params)
        self.has_body = self.method in ("POST", "PUT", "PATCH")
        fields = self.request.__struct_fields__ if self.request is not None else ()
        # Only the query parameters the actor's request knows are forwarded; others are ignored.
        self.query_params = () if self.has_body else tuple(f for f in fields if f not in self.path_params)
        self.int_params = _fields_of(self.request, msgspec.inspect.IntType)
        # A paged reply ({"data": [...], "count", "page", "page_size"}) is spliced into the list envelope.
        reply_fields = set(getattr(self.reply, "__struct_fields__", ()))
        self.listing = PAGE_FIELDS <= reply_fields
        self._head = b'{"success":true,"message":' + _encoder.encode(self.message)
        self._status_decoder = None
        if self.status_by is not None:
            # Decodes that one field and skips the rest of the reply.
            struct = msgspec.defstruct("StatusField", [(self.status_by[0], Any, None)])
            self._status_decoder = msgspec.json.Decoder(struct)

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every success status this route may answer, for the docs."""
        others = self.status_by[1].values() if self.status_by is not None else ()
        return tuple(dict.fromkeys([self.status, *others]))

    def status_for(self, reply: bytes) -> int:
        """The success status of this reply: `status`, unless `status_by` names another."""
        if self._status_decoder is None or self.status_by is None:
            return self.status
        try:
            value = getattr(self._status_decoder.decode(reply), self.status_by[0])
        except (msgspec.DecodeError, UnicodeDecodeError):
            return self.status
        found = self.status_by[1].get(value) if isinstance(value, str) else None
        return self.status if found is None else found

    def payload(self, path: Mapping[str, str], query: Mapping[str, str], body: bytes) -> bytes:
        """The request body for the actor, from what the HTTP request carried."""
        ids = {
            name: path_date(name, path[name]) if name in self.date_params else path_uuid(name, path[name])
            for name in self.path_params
        }
        if self.has_body:
            refuse_nul(body)
            return merge_fields(body, ids) if ids else body
        forwarded: dict[str, str | int] = {}
        for name in self.query_params:
            if name in query:
                value = query[name]
                if "\x00" in value:
                    raise BadRequest(f"{name}: {NUL_REASON}", details={"field": name})
                # "2" is the integer 2; "1.0", "2e1" or "x" stay strings, and the actor's strict
                # decoder refuses them (api.md: a non-integer page is 400, never converted).
                is_int = name in self.int_params and _INTEGER.fullmatch(value) and len(value) < 19
                forwarded[name] = int(value) if is_int else value
        return _encoder.encode({**forwarded, **ids})

    def envelope(self, reply: bytes) -> bytes:
        """The success body around the actor's reply bytes."""
        if self.raw:
            return reply
        if self.listing and len(reply) > 2 and reply[:1] == b"{":
            return self._head + b"," + reply[1:]
        return self._head + b',"data":' + reply + b"}"


_INTEGER = re.compile(r"-?[0-9]+")
NUL_REASON = "text may not contain the NUL character (\\u0000)"
# msgspec decodes nested arrays/objects recursively: a 2 KB body nested 1,000 deep raises
# RecursionError, which is the client's bad input (400), never the edge's 500.
TOO_DEEP = "the body is nested too deeply"
_any_decoder = msgspec.json.Decoder()


def refuse_nul(body: bytes) -> None:
    """400 for a JSON body with a NUL character in any string: Postgres text cannot store one (the
    actor's insert would fail as an internal error). Only a body that spells `\\u0000` is parsed
    here; JSON cannot carry a raw NUL inside a string, and the actor refuses one anywhere else."""
    if b"\\u0000" not in body:
        return
    try:
        found = _nul_at(_any_decoder.decode(body), "")
    except (msgspec.DecodeError, UnicodeDecodeError):
        return  # not JSON: the actor says so
    except RecursionError:
        raise BadRequest(TOO_DEEP) from None
    if found is not None:
        raise BadRequest(f"{found or 'body'}: {NUL_REASON}", details={"field": found or None})


def _nul_at(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) holding a NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return where
            found = _nul_at(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_at(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _fields_of(struct: type[msgspec.Struct] | None, kind: type[msgspec.inspect.Type]) -> frozenset[str]:
    """The fields of `struct` whose type is `kind` (an IntType, a DateType), possibly optional."""
    if struct is None:
        return frozenset()
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)

    def is_kind(t: msgspec.inspect.Type) -> bool:
        if isinstance(t, msgspec.inspect.UnionType):
            return any(is_kind(x) for x in t.types)
        return isinstance(t, kind)

    return frozenset(f.name for f in info.fields if is_kind(f.type))


def path_uuid(name: str, value: str) -> str:
    """A path id in canonical form; anything that is not a UUID names nothing, hence 404."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"no such {name.removesuffix('_id')}") from None


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def path_date(name: str, value: str) -> str:
    """A path date (YYYY-MM-DD); anything else, an impossible day too, names nothing: 404 like a
    path id that is not a UUID."""
    try:
        if _DATE.fullmatch(value):
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise NotFound(f"no such {name}")


def merge_fields(body: bytes, fields: Mapping[str, str]) -> bytes:
    """Add the path's fields to a JSON object body; the path wins over a same-named body field."""
    try:
        obj = _object_decoder.decode(body)
    except msgspec.ValidationError:
        raise BadRequest("the body must be a JSON object") from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        message = "a JSON object body is required" if not body.strip() else "the body is not valid JSON"
        raise BadRequest(message) from None
    except RecursionError:
        raise BadRequest(TOO_DEEP) from None
    obj.update(fields)
    return _encoder.encode(obj)
