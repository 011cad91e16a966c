from __future__ import annotations

import pytest

from app.policy.pack import PolicyPack, load_pack
from app.screening.detectors import Doc
from app.screening.engine import Screener, build_screener
from app.screening.normalize import normalize
from app.screening.types import AuthorRole, ScreenContext


@pytest.fixture(scope="session")
def pack() -> PolicyPack:
    return load_pack()


@pytest.fixture(scope="session")
def screener(pack: PolicyPack) -> Screener:
    return Screener(pack)


@pytest.fixture(scope="session")
def make_doc(screener: Screener):
    def _make(text: str) -> Doc:
        norm = normalize(text)
        return Doc(text, norm, screener._lexicon.scan(norm.text.text))

    return _make


def ctx(role: str = "staff", **kwargs) -> ScreenContext:
    return ScreenContext(author_role=AuthorRole(role), **kwargs)


@pytest.fixture(scope="session")
def fused(pack: PolicyPack) -> Screener:
    """The product's screener: detectors, exact rules and the shipped clause model."""
    return build_screener(pack)
