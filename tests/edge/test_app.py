"""The edge app with NATS down: it starts, stays alive, and answers every failure in the envelope."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from actors.contracts.config import ConfigError, load_settings
from edge.app import create_app

# Nothing listens on port 1: the edge keeps trying to connect in the background.
SETTINGS = load_settings({}, nats_url="nats://127.0.0.1:1", max_body_bytes=2048)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with TestClient(create_app(SETTINGS, startup_wait=0.05)) as test_client:
        yield test_client


def envelope_code(response: Any) -> str:
    body = response.json()
    assert body["success"] is False and isinstance(body["message"], str)
    code: str = body["error"]["code"]
    return code


def unsigned_token(alg: str, kid: str | None = "k1") -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    header = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {})}
    claims = {"sub": str(uuid.uuid4()), "role": "admin", "exp": 9999999999, "iat": 1, "jti": "j"}
    return f"{part(header)}.{part(claims)}."


def test_health_answers_while_nats_is_down(client: TestClient[Any]) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_says_what_is_missing(client: TestClient[Any]) -> None:
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "missing": ["nats", "users", "loans", "servicing"]}


def test_a_forwarded_route_answers_503_at_once_without_nats(client: TestClient[Any]) -> None:
    response = client.post("/api/user/signup", json={"email": "a@b.co"})
    assert (response.status_code, envelope_code(response)) == (503, "service_unavailable")


def test_an_unknown_route_is_404_in_the_envelope(client: TestClient[Any]) -> None:
    response = client.get("/api/user/nothing-here")
    assert (response.status_code, envelope_code(response)) == (404, "not_found")


def test_a_wrong_method_is_405_in_the_envelope(client: TestClient[Any]) -> None:
    response = client.patch("/api/user/signup", json={})
    assert (response.status_code, envelope_code(response)) == (405, "method_not_allowed")


def test_a_body_over_the_limit_is_413(client: TestClient[Any]) -> None:
    response = client.post("/api/user/signup", content=b"x" * 4096)
    assert (response.status_code, envelope_code(response)) == (413, "payload_too_large")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic abc", "Bearer not.a.jwt", f"Bearer {unsigned_token('none')}"],
)
def test_bad_tokens_are_refused_at_the_edge(client: TestClient[Any], authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/api/user/profile", headers=headers)
    assert (response.status_code, envelope_code(response)) == (401, "unauthenticated")


def test_a_token_of_an_unknown_key_needs_the_keys_which_need_nats(client: TestClient[Any]) -> None:
    response = client.get("/api/user/profile", headers={"Authorization": f"Bearer {unsigned_token('EdDSA')}"})
    assert (response.status_code, envelope_code(response)) == (503, "service_unavailable")


def test_the_openapi_document_shows_bodies_queries_and_replies(client: TestClient[Any]) -> None:
    doc = client.get("/schema/openapi.json").json()
    signup = doc["paths"]["/api/user/signup"]["post"]
    body = signup["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"email", "password", "first_name", "last_name", "role"}
    assert signup["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SignupReplyEnvelope"
    )
    assert "security" not in signup

    decide = doc["paths"]["/api/user/approve-delete/{user_id}"]["put"]
    decide_body = decide["requestBody"]["content"]["application/json"]["schema"]
    assert list(decide_body["properties"]) == ["is_approved", "lending_limit"]  # user_id: the path
    assert decide["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
    assert decide["security"] == [{"bearer": []}]

    listing = doc["paths"]["/api/user/list-users"]["get"]
    params = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert params["page_size"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert set(params) == {"page", "page_size", "role", "status"}
    envelope = doc["components"]["schemas"]["UserList"]
    assert set(envelope["properties"]) == {"success", "message", "data", "count", "page", "page_size"}
    assert doc["components"]["schemas"]["ErrorEnvelope"]["properties"]["error"]


def test_swagger_is_served(client: TestClient[Any]) -> None:
    assert client.get("/schema/swagger").status_code == 200


def test_an_app_without_a_nats_url_or_connection_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="LOANS_NATS_URL"):
        create_app(load_settings({}))
