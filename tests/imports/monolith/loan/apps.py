from django.apps import AppConfig


class LoanConfig(AppConfig):
    name = "tests.imports.monolith.loan"
    label = "loan"
