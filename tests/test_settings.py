import pytest
from pydantic import ValidationError

from app.settings import DEV_JWT_SECRET, DEV_SECRET_KEY, Settings

STRONG = "x" * 40


def test_development_defaults_work(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(env="development")
    assert settings.jwt_algorithms == ["HS256"]
    assert settings.database_url.startswith("sqlite")


@pytest.mark.parametrize(
    ("jwt_secret", "secret_key", "named"),
    [
        (DEV_JWT_SECRET, STRONG, "POLICY_JWT_SECRET"),
        (STRONG, DEV_SECRET_KEY, "POLICY_SECRET_KEY"),
        ("short", STRONG, "POLICY_JWT_SECRET"),
        (STRONG, "short", "POLICY_SECRET_KEY"),
    ],
)
def test_production_refuses_default_or_short_secrets(jwt_secret, secret_key, named):
    with pytest.raises(ValidationError) as info:
        Settings(env="production", jwt_secret=jwt_secret, secret_key=secret_key)
    assert named in str(info.value)


def test_production_accepts_strong_secrets():
    settings = Settings(env="production", jwt_secret=STRONG, secret_key=STRONG + "y")
    assert settings.env == "production"


def test_rs_algorithm_needs_a_public_key():
    with pytest.raises(ValidationError, match="POLICY_JWT_PUBLIC_KEY"):
        Settings(jwt_algorithms=["RS256"])


def test_unknown_algorithm_refused():
    with pytest.raises(ValidationError, match="POLICY_JWT_ALGORITHMS"):
        Settings(jwt_algorithms=["none"])


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("POLICY_MAX_TEXT_CHARS", "500")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.max_text_chars == 500
