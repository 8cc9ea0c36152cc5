"""Helpers the tests share (never a test module or conftest.py): imported by tests, or loaded as plugins.

pytest explains failed asserts only in test modules, conftest files and plugins; registering
these modules before any is imported gives the asserts inside helpers the same explanations.
"""

import pkgutil

import pytest

pytest.register_assert_rewrite(*(f"{__name__}.{module.name}" for module in pkgutil.iter_modules(__path__)))
