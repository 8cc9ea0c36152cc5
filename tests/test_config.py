"""Settings name no actor: LOANS_<ACTOR>_DATABASE_URL gives any actor's schema its own server."""

from __future__ import annotations

from actors.contracts.config import load_settings, to_environ


def test_an_actor_of_its_own_server_and_the_others_on_the_shared_one() -> None:
    settings = load_settings(
        {
            "LOANS_DATABASE_URL": "postgresql://shared/db",
            "LOANS_SERVICING_DATABASE_URL": "postgresql://own/db",
            "LOANS_TEST_DATABASE_URL": "postgresql://tests/db",  # the suite's server, not an actor's
        }
    )
    assert settings.database_url_for("servicing") == "postgresql://own/db"
    assert settings.database_url_for("loans") == "postgresql://shared/db"
    assert "test" not in settings.actor_database_urls


def test_a_child_process_gets_the_same_servers() -> None:
    settings = load_settings(
        {"LOANS_DATABASE_URL": "postgresql://shared/db", "LOANS_USERS_DATABASE_URL": "pg://u"}
    )
    again = load_settings(to_environ(settings))
    assert again.actor_database_urls == {"users": "pg://u"}
    assert again.database_url_for("users") == "pg://u"
