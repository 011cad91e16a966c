from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from app.policy.pack import PackError, load_pack
from app.screening.detectors import DETECTOR_CLASSES, DetectorRegistry, default_registry
from app.screening.detectors.base import BaseDetector, Doc, Signal
from app.screening.engine import Screener
from app.screening.evaluate import evaluate
from app.screening.types import ScreenContext, Span

PROBES = Path(__file__).with_name("probe_posts.jsonl")


class ShoutDetector(BaseDetector):
    """Toy detector used to show a new detector touches nothing else."""

    name = "shout"
    version = "1"
    categories = frozenset({"SM-ORG-EMAIL"})
    lexicons: ClassVar[tuple[str, ...]] = ()

    def detect(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        if doc.original.isupper() and len(doc.original) > 5:
            return [Signal("orgemail.said", Span(0, len(doc.original)), 0.9, self.name, "caps")]
        return []


def test_default_registry_lists_every_detector_once(pack):
    registry = default_registry(pack)
    assert len(registry) == len(DETECTOR_CLASSES)
    assert len(set(registry.names())) == len(registry)
    for detector in registry:
        assert detector.name and detector.version and detector.categories


def test_registry_add_remove_for_categories(pack):
    registry = default_registry(pack)
    registry.add(ShoutDetector(pack))
    assert "shout" in registry
    with pytest.raises(ValueError):
        registry.add(ShoutDetector(pack))
    names = [d.name for d in registry.for_categories(["access"])]
    assert names == ["secrets"]
    screener = Screener(pack, registry=registry)
    assert "SM-ORG-EMAIL" in screener.screen("WHAT A DAY THIS IS").rule_ids
    assert Screener(pack).screen("WHAT A DAY THIS IS").rule_ids == ()
    registry.remove("shout")
    with pytest.raises(KeyError):
        registry.remove("shout")
    with pytest.raises(TypeError):
        registry.add(object())  # type: ignore[arg-type]  # not a detector, on purpose


def test_detector_needing_an_unknown_lexicon_fails_loudly(pack):
    class Needy(BaseDetector):
        name = "needy"
        lexicons = ("no_such_lexicon",)

    with pytest.raises(PackError, match="no_such_lexicon"):
        Needy(pack)


def test_empty_registry_allows_everything(pack):
    screener = Screener(pack, registry=DetectorRegistry())
    assert screener.screen("door code is 1234").findings == ()


def test_evaluate_metrics_on_small_records(screener):
    records = [
        {"id": "a", "text": "door code is 4 4 7 1", "author_role": "staff",
         "expected_verdict": "block", "expected_rules": ["SM-ACCESS"]},
        {"id": "b", "text": "lovely sunny day", "author_role": "staff",
         "expected_verdict": "allow", "expected_rules": []},
        {"id": "c", "text": "lovely sunny day", "author_role": "staff",
         "expected_verdict": "block", "expected_rules": ["SM-REPUTATION"]},
    ]  # fmt: skip
    m = evaluate(records, screener)
    assert m["n"] == 3
    assert m["verdict_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["block_recall"] == 0.5
    assert m["false_block_rate"] == 0.0
    assert m["rules"]["SM-ACCESS"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["rules"]["SM-REPUTATION"]["recall"] == 0.0
    assert m["macro_rules"] == ["SM-REPUTATION", "SM-ACCESS"]
    assert m["macro_f1"] == 0.5
    assert m["confusion"]["block"]["allow"] == 1
    assert {"id": "c", "kind": "missed"} in m["misses"]["SM-REPUTATION"]


def test_evaluate_cli_json_last_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "app.screening.evaluate", str(PROBES), "--json"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(last) == {"n", "verdict_accuracy", "block_recall", "false_block_rate", "macro_f1", "rules"}
    assert set(last["rules"]) == {c.rule_id for c in load_pack().clauses}
    assert set(last["rules"]["SM-ACCESS"]) == {"precision", "recall", "f1", "support"}
