"""The deployable stack: compose.yaml, the Dockerfile and the hashed lock files they install from.

Docker's daemon is not needed: the structure is checked by parsing the files, and where a compose
client is installed (`docker compose` or `docker-compose`) its own `config` validates the file and
must refuse to render it while a secret is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from app.http_server import UVICORN_HTTP as HTTP_PROTOCOL
from app.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "compose.yaml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
LOCK_DEV = PROJECT_ROOT / "requirements" / "dev.txt"
LOCK_RUNTIME = PROJECT_ROOT / "requirements" / "runtime.txt"
SECRETS = ("POSTGRES_PASSWORD", "POLICY_JWT_SECRET", "POLICY_SECRET_KEY", "POLICY_PUBLIC_BASE_URL")
REQUIRED_VAR = re.compile(r"\$\{(\w+):\?[^}]*\}")
SECRETISH = re.compile(r"SECRET|PASSWORD|KEY|TOKEN", re.I)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_services_start_in_order_db_then_migration_then_app(compose):
    services = compose["services"]
    assert set(services) == {"db", "migrate", "app"}
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"].get("restart") == "no"
    app_deps = services["app"]["depends_on"]
    assert app_deps["migrate"] == {"condition": "service_completed_successfully"}
    assert app_deps["db"] == {"condition": "service_healthy"}
    # The app and the migration run the same image, built once.
    assert services["migrate"]["image"] == services["app"]["image"]
    assert "build" in services["migrate"]


def test_database_has_a_health_check_and_a_named_volume(compose):
    db = compose["services"]["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume, _, target = db["volumes"][0].partition(":")
    assert target == "/var/lib/postgresql/data"
    assert volume in compose["volumes"], "the data lives in a named volume, not in the container"


def test_app_runs_several_workers_and_checks_readiness(compose):
    app = compose["services"]["app"]
    command = app["command"]
    assert command[:2] == ["uvicorn", "app.main:app"]
    assert command[command.index("--workers") + 1] == "${WEB_CONCURRENCY:-2}"
    # Forwarded addresses are the app's to judge (POLICY_TRUSTED_PROXIES); heads are bounded at the socket.
    assert "--no-proxy-headers" in command
    assert command[command.index("--http") + 1] == HTTP_PROTOCOL
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert all(port.startswith("127.0.0.1:") for port in app["ports"]), "only the proxy reaches the app"


def test_metrics_of_all_workers_are_summed_and_start_empty(compose):
    app = compose["services"]["app"]
    directory = _env(app)["PROMETHEUS_MULTIPROC_DIR"]
    assert directory.startswith("/"), "the workers must share one absolute directory"
    mounts = [entry.partition(":")[0] for entry in app.get("tmpfs", [])]
    assert directory in mounts, "a tmpfs: a restart must not add the last run's counts to the new one"


def test_secrets_come_from_the_environment_and_are_required(compose):
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if SECRETISH.search(key):
                assert REQUIRED_VAR.fullmatch(value), f"{name}.{key} must be ${{VAR:?message}}, not {value!r}"
    app_env = _env(compose["services"]["app"])
    assert app_env["POLICY_ENV"] == "production", "production refuses default secrets at start-up"
    # The password inside DATABASE_URL is interpolated too, never written down.
    assert re.fullmatch(
        r"postgresql\+psycopg://policy:\$\{POSTGRES_PASSWORD:\?[^}]*\}@db:5432/policy", app_env["DATABASE_URL"]
    )
    required = set(REQUIRED_VAR.findall(COMPOSE.read_text(encoding="utf-8")))
    assert set(SECRETS) <= required


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_client_validates_the_file_and_refuses_missing_secrets(tmp_path):
    client = _compose_client()
    if client is None:
        pytest.skip("no compose client installed (the structural tests above still ran)")
    base = {k: v for k, v in os.environ.items() if k not in SECRETS and k != "WEB_CONCURRENCY"}
    values = {
        "POSTGRES_PASSWORD": "pw" * 12,
        "POLICY_JWT_SECRET": "j" * 40,
        "POLICY_SECRET_KEY": "k" * 40,
        "POLICY_PUBLIC_BASE_URL": "https://policy.example.org",
    }
    ok = subprocess.run(
        [*client, "-f", str(COMPOSE), "config"], env={**base, **values}, capture_output=True, text=True, cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    rendered = yaml.safe_load(ok.stdout)
    assert rendered["services"]["app"]["environment"]["POLICY_JWT_SECRET"] == "j" * 40
    assert "2" in rendered["services"]["app"]["command"]
    for missing in SECRETS:
        env = {**base, **{k: v for k, v in values.items() if k != missing}}
        refused = subprocess.run(
            [*client, "-f", str(COMPOSE), "config"], env=env, capture_output=True, text=True, cwd=tmp_path
        )
        assert refused.returncode != 0, f"compose rendered without {missing}"
        assert missing in refused.stderr


def test_dockerfile_installs_the_lock_and_runs_workers_unprivileged():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "pip install --require-hashes -r requirements/runtime.txt" in text
    assert re.search(r"pip install --no-deps \.", text)
    assert text.index("--require-hashes") < text.index("--no-deps")
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    cmd = re.search(r"^CMD (.+)$", text, re.M)
    assert cmd, "the Dockerfile has no CMD"
    assert json.loads(cmd.group(1))[0] == "uvicorn", "exec form, so uvicorn is PID 1 and gets SIGTERM"
    assert re.search(r"^\s*WEB_CONCURRENCY=[2-9]", text, re.M), "uvicorn reads its worker count from WEB_CONCURRENCY"
    assert "/readyz" in text


def _pins(lock: str) -> dict[str, str]:
    """Name -> version of every `name==version` pin, checking each carries at least one hash."""
    pins = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", lock):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", entry)
        if match:
            assert "--hash=sha256:" in entry, f"{match.group(1)} is pinned without a hash"
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def _names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement)
        assert name, f"no package name in {requirement!r}"
        names.add(name.group(0).lower().replace("_", "-"))
    return names


def test_lock_files_pin_every_dependency_with_hashes():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime, dev = _pins(LOCK_RUNTIME.read_text()), _pins(LOCK_DEV.read_text())
    assert _names(project["dependencies"]) <= set(runtime)
    assert _names(project["dependencies"] + project["optional-dependencies"]["dev"]) <= set(dev)
    # The image runs exactly what the developers and CI test.
    assert {name: dev[name] for name in runtime} == runtime
    # pyproject.toml keeps ranges with lower bounds; only the lock files pin.
    for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert ">=" in requirement and "==" not in requirement, requirement


def test_make_installs_from_the_lock():
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    target = re.search(r"^\$\(VENV\)/\.installed:(.*)$", makefile, re.M)
    assert target, "the Makefile has no $(VENV)/.installed rule"
    assert "$(LOCK_DEV)" in target.group(1), "editing the lock must reinstall the venv"
    assert "--require-hashes -r $(LOCK_DEV)" in makefile
    assert "--no-deps -e ." in makefile
    assert re.search(r"^PIP_TOOLS_VERSION := \d+\.\d+\.\d+$", makefile, re.M)
    assert re.search(r"^lock:", makefile, re.M)


def test_every_launcher_bounds_request_heads_at_the_socket():
    """uvicorn's own parser buffers any head; every way of starting the service uses the bounded one."""
    launchers = {
        "Makefile": (PROJECT_ROOT / "Makefile").read_text(),
        "Dockerfile": (PROJECT_ROOT / "Dockerfile").read_text(),
        "compose.yaml": (PROJECT_ROOT / "compose.yaml").read_text(),
    }
    for name, text in launchers.items():
        starts = [m.start() for m in re.finditer(r"uvicorn[\"',\s]+app\.main:app", text)]
        assert starts, f"{name} does not start uvicorn"
        for start in starts:
            command = text[start : start + 400]
            assert HTTP_PROTOCOL in command, f"{name} starts uvicorn without --http {HTTP_PROTOCOL}"
