"""Settings of the monolith: its database from MONOLITH_DATABASE_URL (a fresh one per test run)."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

_url = urlsplit(os.environ["MONOLITH_DATABASE_URL"])
SECRET_KEY = "monolith-test-only"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "simple_history",
    "tests.imports.monolith.user",
    "tests.imports.monolith.loan",
]
AUTH_USER_MODEL = "user.User"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
    }
}
# Still Django's pbkdf2_sha256, with fewer iterations so a few hundred users take a second: the
# importer reads the count from each hash.
from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402


class FewIterations(PBKDF2PasswordHasher):
    iterations = 1000


PASSWORD_HASHERS = ["tests.imports.monolith.settings.FewIterations"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
