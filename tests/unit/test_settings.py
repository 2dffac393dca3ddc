from collections import Counter
from pathlib import Path

import pytest

from components.registry import COMPONENTS, WORKERS
from components.settings import all_variables, describe_settings, load_settings
from services.auth import api as auth_api
from services.bank.settings import BankSettings
from services.common.settings import SettingsError
from services.reservations.settings import ReservationsSettings


def test_defaults_are_the_local_ports_of_the_design():
    settings = load_settings({})
    assert settings.host == "127.0.0.1"
    assert settings.port("search") == 8003
    assert settings.port("bank") == 8009
    assert settings.url("search") == "http://127.0.0.1:8003"
    assert settings.temporal.address == "127.0.0.1:7233"


def test_default_database_is_a_sqlite_file_under_var():
    settings = load_settings({"STAYSAGA_VAR_DIR": "/tmp/x"})
    assert settings.database_url("search") == "sqlite+aiosqlite:////tmp/x/search.db"


def test_environment_overrides_port_url_and_database():
    settings = load_settings(
        {
            "SEARCH_PORT": "9100",
            "SEARCH_URL": "http://search.internal:80/",
            "SEARCH_DATABASE_URL": "postgresql+asyncpg://db/search",
        }
    )
    assert settings.port("search") == 9100
    assert settings.url("search") == "http://search.internal:80"
    assert settings.database_url("search") == "postgresql+asyncpg://db/search"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SEARCH_PORT", "abc", "must be a number"),
        ("SEARCH_PORT", "70000", "from 1 to 65535"),
        ("TEMPORAL_DEV_SERVER", "maybe", "true or false"),
        ("STAYSAGA_LOG_FORMAT", "xml", "json, text"),
        ("HTTP_CLIENT_TIMEOUT", "-1", "greater than 0"),
        ("BANK_FAULT_ERROR_RATE", "2", "share from 0 to 1"),
        ("RESERVATIONS_HOLD_TTL_SECONDS", "0", "greater than 0"),
        ("WORKER_PAYMENTS_HEALTH_PORT", "0", "from 1 to 65535"),
        ("STAYSAGA_TRUSTED_PROXIES", "10.0.0.1, proxy.local", "not an IP address or network"),
        ("AUTH_SIGNIN_THROTTLE_STORAGE", "memcached://cache", "memory:// or a redis:// URL"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "http:// or https:// URL"),
        ("STAYSAGA_TRACE_URL", "http://jaeger:16686/search", "{trace_id}"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(variable, value, message):
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable
    assert message in str(caught.value)
    assert repr(value) in str(caught.value)


def test_tls_certificate_without_key_is_refused():
    with pytest.raises(SettingsError) as caught:
        load_settings({"TEMPORAL_TLS_CERT": "/c.pem"})
    assert caught.value.variable == "TEMPORAL_TLS_KEY"


def test_a_service_reads_its_own_variables_typed():
    settings = load_settings({"BANK_FAULT_ERROR_RATE": "0.25", "BANK_SLOW_CARD_MS": "10"})
    bank = settings.of(BankSettings)
    assert bank.fault_error_rate == 0.25
    assert bank.slow_card_ms == 10
    assert bank.fault_hang_ms == 15000
    assert settings.of(ReservationsSettings).hold_ttl_seconds == 900


def test_the_token_endpoint_and_keys_follow_auth_and_its_contract():
    settings = load_settings({"AUTH_URL": "https://auth.example/"})
    assert settings.auth_issuer == "https://auth.example"
    assert settings.auth_token_url == "https://auth.example" + auth_api.TOKEN_PATH
    assert settings.auth_jwks_url == "https://auth.example" + auth_api.JWKS_PATH
    explicit = load_settings({"AUTH_TOKEN_URL": "https://idp.example/token"})
    assert explicit.auth_token_url == "https://idp.example/token"


def test_the_smtp_port_defaults_to_the_mail_sinks():
    assert load_settings({"MAILSINK_SMTP_PORT": "2525"}).smtp_port == 2525
    assert load_settings({"MAILSINK_SMTP_PORT": "2525", "SMTP_PORT": "25"}).smtp_port == 25


def test_overrides_read_the_environment_again():
    settings = load_settings({"SEARCH_PORT": "9100"})
    changed = settings.with_overrides(USERS_URL="http://users.test", BANK_SLOW_CARD_MS="5")
    assert changed.url("users") == "http://users.test"
    assert changed.of(BankSettings).slow_card_ms == 5
    assert changed.port("search") == 9100
    with pytest.raises(SettingsError):
        settings.with_overrides(SEARCH_PORT="nope")


def test_every_component_setting_is_documented():
    names = {name for name, _, doc in describe_settings() if doc}
    for component in COMPONENTS.values():
        assert f"{component.name.upper()}_PORT" in names
        assert f"{component.name.upper()}_URL" in names


def test_each_variable_is_declared_once():
    counts = Counter(v.name for v in all_variables())
    assert [name for name, count in counts.items() if count > 1] == []


def test_var_dir_is_a_path():
    assert load_settings({"STAYSAGA_VAR_DIR": "state"}).var_dir == Path("state")


def test_each_worker_has_a_health_port_of_its_own():
    settings = load_settings({"WORKER_PAYMENTS_HEALTH_PORT": "9200"})
    assert settings.worker_health_port("booking") == 8101
    assert settings.worker_health_port("payments") == 9200
    defaults = load_settings({})
    ports = {defaults.worker_health_port(queue) for queue in WORKERS}
    assert len(ports) == len(WORKERS)
    assert not ports & {component.port for component in COMPONENTS.values()}


def test_each_worker_has_a_metrics_port_of_its_own():
    settings = load_settings({"WORKER_PAYMENTS_METRICS_PORT": "9201"})
    assert settings.worker_metrics_port("payments") == 9201
    defaults = load_settings({})
    ports = {defaults.worker_metrics_port(queue) for queue in WORKERS}
    assert len(ports) == len(WORKERS)
    taken = {component.port for component in COMPONENTS.values()}
    taken |= {defaults.worker_health_port(queue) for queue in WORKERS}
    taken |= {defaults.temporal.ui_port, defaults.temporal.metrics_port}
    assert not ports & taken
