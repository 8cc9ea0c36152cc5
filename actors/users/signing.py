"""The users actor's Ed25519 signing key: made once under the data dir, published as a JWKS.

Only this actor reads the private key; every other process verifies with the public keys it
serves on `users.jwks`. The `kid` is the key's RFC 7638 thumbprint, so rotating means adding a key
with a new kid, never changing what an old kid means.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from actors.bus.tokens import ALGORITHM


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    kid: str
    jwks: bytes

    def issue(self, user_id: uuid.UUID, role: str, ttl_seconds: int) -> str:
        now = time.time()
        claims = {
            "sub": str(user_id),
            "role": role,
            # To the millisecond, rounded down: a token issued just after a password change (or a
            # disable) must be told apart from one issued just before it (actors/bus/revocations.py).
            "iat": math.floor(now * 1000) / 1000,
            "exp": int(now) + ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


def load_or_create(path: Path) -> SigningKey:
    """Read the PEM at `path`, creating it first (atomically: several workers may race) if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, path)  # fails if another worker won the race: then we use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = _read_key(path)
    kid, jwk = _public_jwk(key)
    # Keys retired by a rotation stay published (verification only) while their tokens live:
    # `<key dir>/previous/*.pem`, removed once the longest token lifetime has passed.
    retired = [_public_jwk(_read_key(p))[1] for p in sorted((path.parent / "previous").glob("*.pem"))]
    keys = [jwk, *(r for r in retired if r["kid"] != kid)]
    return SigningKey(private_key=key, kid=kid, jwks=json.dumps({"keys": keys}).encode())


def _read_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def _public_jwk(key: Ed25519PrivateKey) -> tuple[str, dict[str, str]]:
    public = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    kid = _thumbprint(public)
    return kid, {**public, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def _thumbprint(jwk: dict[str, str]) -> str:
    # RFC 8037 §2: the thumbprint of an OKP key covers crv, kty and x, in that order

    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    digest = hashes.Hash(hashes.SHA256())
    digest.update(canonical.encode())
    return jwt.utils.base64url_encode(digest.finalize()).decode()
