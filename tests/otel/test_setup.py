"""OTEL_TRACES_EXPORTER decides the exporters; a missing or unknown one means no tracing, said aloud."""

from __future__ import annotations

import sys

import pytest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from otel.setup import _exporters


def test_none_is_the_default_and_installs_nothing() -> None:
    assert _exporters("none") == [] and _exporters("") == []


def test_console_and_otlp_may_be_combined() -> None:
    exporters = _exporters("console, otlp")
    assert [type(e).__name__ for e in exporters] == ["ConsoleSpanExporter", "OTLPSpanExporter"]
    assert isinstance(exporters[0], ConsoleSpanExporter)


def test_otlp_without_its_package_warns_and_falls_back_to_none(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    assert _exporters("otlp") == []
    assert "otlp extra" in caplog.text


def test_an_unknown_exporter_is_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert _exporters("zipkin") == []
    assert "OTEL_TRACES_EXPORTER=zipkin" in caplog.text
