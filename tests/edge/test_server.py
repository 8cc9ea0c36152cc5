"""One set of uvicorn settings: the edge's, which the bench's direct app and gateway run too."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from litestar import Litestar

from actors.contracts.config import load_settings
from edge.server import uvicorn_config

# what "same defaults" means: every setting but the app and the port
SHARED = (
    "host",
    "loop",
    "http",
    "lifespan",
    "access_log",
    "server_header",
    "timeout_graceful_shutdown",
    "log_config",
)


def shared(config: uvicorn.Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in SHARED}


def test_the_edge_settings() -> None:
    settings = load_settings({}, http_host="127.0.0.2", http_port=8123, drain_timeout=2.5)
    config = uvicorn_config(Litestar(), settings)
    assert (config.host, config.port) == ("127.0.0.2", 8123)
    assert shared(config) == {
        "host": "127.0.0.2",
        "loop": "auto",  # uvloop when installed
        "http": "auto",  # httptools when installed
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": 3,  # whole seconds, rounded up
        "log_config": None,  # the process's own handlers
    }


def test_a_port_given_wins_over_the_settings() -> None:
    assert uvicorn_config(Litestar(), load_settings({}, http_port=8123), port=9001).port == 9001


@pytest.mark.parametrize(
    ("module", "argv"),
    [
        ("bench.direct_app", ["--port", "9001", "--mode", "direct"]),
        ("bench.http_hop", ["--port", "9001", "--upstream", "http://127.0.0.1:9003"]),
    ],
)
def test_the_bench_apps_serve_with_the_edge_settings(
    module: str, argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[uvicorn.Config] = []

    class Server:
        def __init__(self, config: uvicorn.Config) -> None:
            served.append(config)

        def run(self) -> None:
            pass

    for name in [k for k in os.environ if k.startswith("LOANS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LOANS_DATA_DIR", str(tmp_path))  # the app makes its signing key there
    monkeypatch.setattr(uvicorn, "Server", Server)
    monkeypatch.setattr(sys, "argv", [module, *argv])
    importlib.import_module(module).main()

    assert [c.port for c in served] == [9001]
    assert shared(served[0]) == shared(uvicorn_config(Litestar(), load_settings({})))
