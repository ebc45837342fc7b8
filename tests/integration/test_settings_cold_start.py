"""Every function fails its cold start on a missing or malformed variable, naming it, and
starts with exactly the environment the template gives it."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from roomcast import settings
from tests.conftest import ROOT

MODELS: dict[str, type[settings.Settings]] = {
    "admin": settings.AdminSettings,
    "adminauth": settings.AdminAuthorizerSettings,
    "authorizer": settings.AuthorizerSettings,
    "calltimer": settings.CallTimerSettings,
    "chat": settings.ChatSettings,
    "connect": settings.ConnectSettings,
    "delivery": settings.DeliverySettings,
    "disconnect": settings.DisconnectSettings,
    "eventdelivery": settings.EventDeliverySettings,
    "events": settings.EventsSettings,
    "fanout": settings.FanoutSettings,
    "signal": settings.SignalSettings,
}
REQUIRED = [
    (function, field.alias)
    for function, model in MODELS.items()
    for field in model.model_fields.values()
    if field.is_required()
]


def test_every_function_has_a_settings_model() -> None:
    assert sorted(MODELS) == sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    assert all(any(f == function for f, _ in REQUIRED) for function in MODELS)


def _cold_start(function: str) -> ModuleType:
    """A fresh import of functions/<name>/app.py, as a new execution environment does it."""
    spec = importlib.util.spec_from_file_location(f"cold_{function}", ROOT / "functions" / function / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def function_env(stack, monkeypatch: pytest.MonkeyPatch):
    """Leave only the named function's template environment (the stack applied every function's)."""

    def apply(function: str) -> dict[str, str]:
        by_folder = {
            str(stack.template["Resources"][logical_id]["Properties"]["CodeUri"]).strip("/").split("/")[-1]: logical_id
            for logical_id in stack.functions
        }
        own = stack.function_environment(by_folder[function])
        for logical_id in stack.functions:
            for name in stack.function_environment(logical_id):
                if name not in own:
                    monkeypatch.delenv(name, raising=False)
        for name, value in own.items():
            monkeypatch.setenv(name, value)
        return own

    yield apply
    settings.reset_settings()


@pytest.mark.parametrize("function", sorted(MODELS))
def test_the_template_gives_each_function_what_its_model_requires(function, function_env) -> None:
    function_env(function)
    _cold_start(function)
    assert settings._model is MODELS[function]
    assert isinstance(settings.get_settings(), MODELS[function])


@pytest.mark.parametrize(("function", "variable"), REQUIRED)
def test_a_missing_variable_fails_the_cold_start_naming_it(function, variable, function_env, monkeypatch) -> None:
    function_env(function)
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(settings.SettingsError, match=rf"\b{variable} is missing"):
        _cold_start(function)


@pytest.mark.parametrize("function", sorted(MODELS))
def test_a_malformed_variable_fails_the_cold_start_naming_it_not_its_value(function, function_env, monkeypatch) -> None:
    function_env(function)
    monkeypatch.setenv("CONNECTION_TTL_SECONDS", "two-hours")
    with pytest.raises(settings.SettingsError, match=r"CONNECTION_TTL_SECONDS: Input should be a valid integer") as caught:
        _cold_start(function)
    assert "two-hours" not in str(caught.value)


def test_an_empty_resource_name_is_refused_too(function_env, monkeypatch) -> None:
    function_env("chat")
    monkeypatch.setenv("TABLE_NAME", "")
    with pytest.raises(settings.SettingsError, match=r"TABLE_NAME: String should have at least 1 character"):
        _cold_start("chat")


def test_a_malformed_webhook_schedule_fails_the_delivery_cold_start(function_env, monkeypatch) -> None:
    function_env("delivery")
    monkeypatch.setenv("WEBHOOK_SCHEDULE", "60,soon")
    with pytest.raises(settings.SettingsError, match=r"WEBHOOK_SCHEDULE: Value error"):
        _cold_start("delivery")


@pytest.mark.parametrize("function", ["chat", "fanout"])
def test_a_split_threshold_out_of_bounds_fails_the_cold_start(function, function_env, monkeypatch) -> None:
    function_env(function)
    monkeypatch.setenv("FANOUT_SPLIT_THRESHOLD", "0")
    with pytest.raises(settings.SettingsError, match=r"FANOUT_SPLIT_THRESHOLD: Input should be greater than or equal to 1"):
        _cold_start(function)
