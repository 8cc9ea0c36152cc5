"""`loans admin create`: the first admin, before anyone can log in to make one over REST."""

from __future__ import annotations

import argparse
import sys

import msgspec

from actors.contracts.config import Settings
from actors.contracts.errors import ActorError
from actors.contracts.users import CreateAdmin
from actors.users.bootstrap import create_admin


async def create_first_admin(settings: Settings, args: argparse.Namespace) -> int:
    """Read the password from stdin, write the admin; print it, or why not (exit 2 bad input, 1 refused)."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        req = msgspec.convert(
            {
                "email": args.email,
                "password": password,
                "first_name": args.first_name,
                "last_name": args.last_name,
            },
            CreateAdmin,
        )
        user = await create_admin(settings, req)
    except msgspec.ValidationError as exc:
        print(f"loans: {exc}", file=sys.stderr)
        return 2
    except ActorError as exc:
        print(f"loans: {exc.message}", file=sys.stderr)
        return 1
    print(msgspec.json.encode(user).decode())
    return 0
