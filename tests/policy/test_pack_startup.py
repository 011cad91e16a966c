"""The policy pack is the only source of the organisation's words: a pack that fails to load stops
start-up with a message naming the pack and the error, and no Python file names the organisation."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from app.main import StartupError, create_app
from app.policy.pack import PACKS_DIR, load_pack
from app.settings import PROJECT_ROOT, Settings

BUNDLED = next(PACKS_DIR.glob("*.toml"))


def _settings(pack: str) -> Settings:
    return Settings(env="test", database_url="sqlite:///:memory:", policy_pack=pack, audit_seal_interval_seconds=0)


def _pack_without_stage(tmp_path, stage: str):
    text = BUNDLED.read_text(encoding="utf-8")
    step = re.compile(r'\[\[ladder\.steps\]\]\nstage = "' + stage + r'"\n(?:[^\[\n][^\n]*\n)*', re.M)
    broken, count = step.subn("", text)
    assert count == 1
    path = tmp_path / "no_letter.toml"
    path.write_text(broken, encoding="utf-8")
    return path


def test_a_missing_pack_stops_start_up_naming_it(tmp_path):
    missing = str(tmp_path / "gone.toml")
    with pytest.raises(StartupError) as exc:
        create_app(_settings(missing))
    assert "gone.toml" in str(exc.value) and "not found" in str(exc.value)


def test_an_invalid_pack_stops_start_up_naming_the_entry(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BUNDLED.read_text(encoding="utf-8").replace("[organisation]\nname = ", "[organisation]\nnom = ", 1))
    with pytest.raises(StartupError) as exc:
        create_app(_settings(str(path)))
    assert "bad.toml" in str(exc.value) and "organisation.name" in str(exc.value)


def test_a_pack_without_a_ladder_stage_stops_start_up(tmp_path):
    path = _pack_without_stage(tmp_path, "legal_letter")
    with pytest.raises(StartupError) as exc:
        create_app(_settings(str(path)))
    assert "legal_letter" in str(exc.value)


def test_the_server_process_exits_with_the_pack_error(tmp_path):
    env = {**os.environ, "POLICY_POLICY_PACK": str(tmp_path / "gone.toml"), "DATABASE_URL": "sqlite:///:memory:"}
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "StartupError: policy pack" in result.stderr and "gone.toml" in result.stderr


def _organisation_names() -> list[str]:
    org = load_pack(None).organisation
    names = [org.name, *org.aliases, *org.domains, *org.email_domains, *org.handles, *org.hashtags, *org.phones]
    names += [v for v in (org.website, org.public_email, org.company_number) if v]
    # Also the name written without spaces or punctuation ("exampleproject"), as in a domain.
    names.append(re.sub(r"\W", "", org.name))
    return sorted({n.lower() for n in names if len(n) >= 4})


def test_no_python_file_names_the_organisation():
    names = _organisation_names()
    assert len(names) >= 5
    found = []
    for path in sorted((PROJECT_ROOT / "app").rglob("*.py")):
        text = path.read_text(encoding="utf-8").lower()
        found += [f"{path.relative_to(PROJECT_ROOT)}: {name!r}" for name in names if name in text]
    assert found == [], "the organisation's names belong in its pack or settings:\n" + "\n".join(found)


def test_the_spec_names_the_organisation_from_the_pack():
    org = load_pack(None).organisation.name
    spec = create_app(_settings(str(BUNDLED))).openapi()
    assert org in spec["info"]["title"] and org in spec["info"]["description"]
    assert "{organisation}" not in str(spec)
    assert org in str(spec["components"]["schemas"]["PolicyStatusRead"])
