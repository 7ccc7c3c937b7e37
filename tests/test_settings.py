from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.settings import Settings


def build(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_api_keys_parse_into_roles_and_stay_secret() -> None:
    settings = build(api_keys="alpha-secret-0123456789:admin,beta-secret-0123456789:viewer")
    assert [k.role for k in settings.api_keys] == ["admin", "viewer"]
    assert [k.secret.get_secret_value() for k in settings.api_keys] == [
        "alpha-secret-0123456789",
        "beta-secret-0123456789",
    ]
    assert "alpha-secret-0123456789" not in repr(settings)


def test_api_keys_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATA_API_KEYS", "k1-0123456789abcdef:user")
    monkeypatch.setenv("STRATA_HOME", "/tmp/strata-env-home")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.api_keys[0].role == "user"
    assert settings.home == Path("/tmp/strata-env-home")


@pytest.mark.parametrize("value", ["nokey", "k1:root", ":admin"])
def test_malformed_api_keys_are_rejected_with_the_expected_form(value: str) -> None:
    with pytest.raises(ValidationError, match="key1:admin,key2:user"):
        build(api_keys=value)


def test_refuses_a_public_address_without_keys() -> None:
    with pytest.raises(ValidationError, match="STRATA_API_KEYS"):
        build(host="0.0.0.0")


def test_public_address_is_allowed_once_keys_exist() -> None:
    assert build(host="0.0.0.0", api_keys="k-0123456789abcdef:admin").host == "0.0.0.0"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "localhost"])
def test_loopback_addresses_need_no_keys(host: str) -> None:
    assert build(host=host).host == host


@pytest.mark.parametrize(
    ("field", "value"),
    [("cache_policy", "sometimes"), ("port", 0), ("top_k", 0), ("max_answer_tokens", -1)],
)
def test_bad_values_are_rejected_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        build(**{field: value})


def test_a_short_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError, match="at least 16") as refused:
        build(api_keys="long-enough-secret-123:admin,hunter2:user")
    # What `strata` prints is the message, which never carries the key.
    assert "hunter2" not in refused.value.errors()[0]["msg"]


def test_a_key_given_twice_is_refused_rather_than_taking_the_last_role() -> None:
    key = "the-same-secret-0123"
    with pytest.raises(ValidationError, match="appears twice") as refused:
        build(api_keys=f"{key}:viewer,{key}:admin")
    assert key not in refused.value.errors()[0]["msg"]
