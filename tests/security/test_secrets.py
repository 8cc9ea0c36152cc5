"""Generated secrets survive every place they go: URLs, SQL literals and nats-server's config."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ops.credentials import Credentials, new_secret
from ops.embedded import EmbeddedNats


def test_every_secret_starts_with_a_letter_and_is_url_safe() -> None:
    """nats-server takes a `$VARIABLE` that starts with "-" for a number and refuses it (one
    token_urlsafe in 64 starts so); 1,000 draws would meet one almost surely."""
    for _ in range(1000):
        secret = new_secret()
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{43}", secret), secret


def test_nats_server_reads_a_stored_secret_from_its_environment(tmp_path: Path) -> None:
    """The real nats-server parses a config that takes the password from the environment."""
    secret = Credentials(tmp_path).get("nats-probe")
    config = tmp_path / "probe.conf"
    config.write_text("authorization { users = [ { user: probe, password: $PROBE_PASSWORD } ] }\n")
    for value in (secret, "-n" + secret[2:]):  # the second is what stopped `loans up` once
        done = subprocess.run(
            [EmbeddedNats.binary(), "-c", str(config), "-t"],
            env={"PROBE_PASSWORD": value},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (done.returncode == 0) == (value == secret), done.stderr
