from django.apps import AppConfig


class UserConfig(AppConfig):
    name = "tests.imports.monolith.user"
    label = "user"
