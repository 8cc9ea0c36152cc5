"""Where a running `loans up` says its servers are, so other `loans` commands find them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from actors.contracts.config import Settings, load_settings

FILE_NAME = "runtime.json"


def write(settings: Settings, nats_url: str, database_url: str, http_url: str) -> Path:
    path = settings.data_path / FILE_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"nats_url": nats_url, "database_url": database_url, "http_url": http_url}))
    os.replace(tmp, path)
    return path


def remove(settings: Settings) -> None:
    (settings.data_path / FILE_NAME).unlink(missing_ok=True)


def settings_with_running_system() -> Settings:
    """The environment's settings, filling unset URLs from a `loans up` running on this data dir."""
    settings = load_settings()
    path = settings.data_path / FILE_NAME
    if (settings.nats_url and settings.database_url) or not path.exists():
        return settings
    running = json.loads(path.read_text())
    return load_settings(
        nats_url=settings.nats_url or running.get("nats_url"),
        database_url=settings.database_url or running.get("database_url"),
    )
