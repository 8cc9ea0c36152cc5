"""The byte work around a call: payloads built from the URL and body, envelopes spliced around replies."""

from __future__ import annotations

import json
import uuid

import msgspec
import pytest

from actors.contracts import users as m
from actors.contracts.base import Empty
from actors.contracts.errors import BadRequest, NotFound
from edge.endpoint import Endpoint, merge_fields, path_uuid

LIST = Endpoint("GET", "/list-users", "users.list_users", "Users", m.ListUsers, m.UserPage)
DECIDE = Endpoint("PUT", "/approve-delete/{user_id}", "users.decide_agent", "Decided", m.DecideAgent, m.User)
DELETE = Endpoint("DELETE", "/approve-delete/{user_id}", "users.delete_agent", "Gone", m.DeleteAgent, m.User)
SIGNUP = Endpoint("POST", "/signup", "users.signup", "Signed up", m.Signup, m.SignupReply, status=201)
JWKS = Endpoint("GET", "/jwks", "users.jwks", "Keys", Empty, raw=True)


def test_an_object_reply_is_spliced_in_as_data() -> None:
    reply = b'{"id":"1","email":"a@b.c"}'
    body = SIGNUP.envelope(reply)
    data = {"id": "1", "email": "a@b.c"}
    assert json.loads(body) == {"success": True, "message": "Signed up", "data": data}
    assert body.endswith(b',"data":' + reply + b"}")  # the reply's bytes, untouched


def test_a_paged_reply_is_spliced_into_the_list_envelope() -> None:
    reply = msgspec.json.encode({"data": [{"id": 1}], "count": 7, "page": 2, "page_size": 1})
    assert json.loads(LIST.envelope(reply)) == {
        "success": True,
        "message": "Users",
        "data": [{"id": 1}],
        "count": 7,
        "page": 2,
        "page_size": 1,
    }


def test_the_message_is_json_escaped() -> None:
    ep = Endpoint("GET", "/x", "users.x", 'say "hi"\n', Empty, m.User)
    assert json.loads(ep.envelope(b"{}"))["message"] == 'say "hi"\n'


def test_a_raw_endpoint_answers_the_reply_as_is() -> None:
    assert JWKS.envelope(b'{"keys":[]}') == b'{"keys":[]}'


def test_list_routes_are_recognised_from_the_reply_type() -> None:
    assert LIST.listing and not DECIDE.listing and not SIGNUP.listing


def test_query_parameters_the_request_knows_are_forwarded_integers_as_integers() -> None:
    payload = LIST.payload({}, {"page": "2", "role": "agent", "bogus": "1"}, b"")
    assert json.loads(payload) == {"page": 2, "role": "agent"}


def test_a_query_value_that_is_not_an_integer_stays_a_string_for_the_actor_to_refuse() -> None:
    for value in ("1.0", "2e1", "x", "", "99999999999999999999"):
        assert json.loads(LIST.payload({}, {"page": value}, b"")) == {"page": value}


def test_no_query_parameters_forward_an_empty_object() -> None:
    assert LIST.payload({}, {}, b"") == b"{}"


def test_a_body_route_passes_the_body_through_byte_for_byte() -> None:
    body = b'{"email": "a@b.c",   "extra": 1.50}'
    assert SIGNUP.payload({}, {"page": "1"}, body) is body
    assert SIGNUP.query_params == ()


def test_the_path_id_is_merged_into_the_body_and_wins() -> None:
    user_id = uuid.uuid4()
    sent = DECIDE.payload({"user_id": str(user_id)}, {}, b'{"is_approved": true, "user_id": "spoof"}')
    assert json.loads(sent) == {"is_approved": True, "user_id": str(user_id)}


def test_a_path_id_without_a_body_becomes_the_payload() -> None:
    user_id = str(uuid.uuid4())
    assert json.loads(DELETE.payload({"user_id": user_id}, {"q": "x"}, b"")) == {"user_id": user_id}


@pytest.mark.parametrize("value", ["not-a-uuid", "", "1234", "../etc"])
def test_a_path_id_that_is_not_a_uuid_is_not_found(value: str) -> None:
    with pytest.raises(NotFound, match="no such user"):
        DELETE.payload({"user_id": value}, {}, b"")


def test_a_path_uuid_is_forwarded_in_canonical_form() -> None:
    assert path_uuid("loan_id", "A0EEBC999C0B4EF8BB6D6BB9BD380A11") == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"


@pytest.mark.parametrize("body", [b"", b"  ", b"[1, 2]", b'"text"', b"null", b"{oops"])
def test_merging_needs_a_json_object_body(body: bytes) -> None:
    with pytest.raises(BadRequest):
        merge_fields(body, {"loan_id": "x"})


def test_merging_keeps_numbers_exactly_as_sent() -> None:
    body = b'{"principal": 10000.0000000000000001, "big": 123456789012345678.25, "months": 12}'
    merged = merge_fields(body, {"loan_id": "x"})
    assert b"10000.0000000000000001" in merged and b"123456789012345678.25" in merged
    assert b'"months":12' in merged


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"email": "a\\u0000b@c.de", "password": "x"}', "email"),
        (b'{"first_name": "ok", "last_name": "\\u0000"}', "last_name"),
        (b'{"a": {"b": ["x", "y\\u0000"]}}', "a.b[1]"),
        (b'{"k\\u0000": 1}', "k\x00"),
    ],
)
def test_a_nul_character_in_any_string_is_400_naming_the_field(body: bytes, field: str) -> None:
    """Postgres text cannot hold U+0000: refused here, never an internal error at the actor."""
    with pytest.raises(BadRequest, match="NUL") as refused:
        SIGNUP.payload({}, {}, body)
    assert refused.value.details == {"field": field}


def test_a_nul_in_a_query_value_is_400() -> None:
    with pytest.raises(BadRequest, match="role: text may not contain"):
        LIST.payload({}, {"role": "agent\x00"}, b"")


def test_an_escaped_backslash_before_u0000_is_plain_text() -> None:
    body = b'{"last_name": "C:\\\\u0000 is fine"}'  # the text `C:\u0000 is fine`, no NUL in it
    assert SIGNUP.payload({}, {}, body) is body
