"""The learned layer: features, the exported model against scikit-learn, fusion, loading, the engine."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.policy.pack import PolicyPack
from app.screening.engine import Screener, build_screener
from app.screening.learned import train as training
from app.screening.learned.features import char_ngrams, context_features, symbols, text_features, word_shape
from app.screening.learned.fusion import BLOCK_HEAD, FLAG_HEAD, PLAUSIBLE, ClauseSpec, decide, review_support
from app.screening.learned.model import ClauseModel, ModelError, artifact_path, load_model
from app.screening.normalize import normalize, tokens_and_words
from app.screening.types import AuthorRole, ScreenContext, Verdict
from tests.screening.conftest import ctx


def _features(text: str) -> list[str]:
    norm = normalize(text).text.text
    return text_features(tokens_and_words(norm)[1], norm)


# --- features ---------------------------------------------------------------------------------


def test_evasions_give_the_same_features_as_plain_spelling() -> None:
    plain = _features("the centre cut the saturday club")
    assert _features("the c3ntre cut the SATURDAY club") == plain
    assert _features("the c\u200bentre cut the saturday club") == plain
    assert _features("thе сentre cut the saturday club") == plain  # Cyrillic е and с


def test_digits_are_shapes_so_no_code_value_is_ever_a_feature() -> None:
    assert word_shape("4471") == word_shape("9053") == "0000"
    feats = _features("door code is 4471")
    assert not any("4471" in f or "447" in f for f in feats)
    assert "w:0000" in feats


def test_char_ngrams_are_padded_and_bounded() -> None:
    grams = char_ngrams("ab")
    assert grams == ["c: ab", "c:ab ", "c: ab "]
    assert all(3 <= len(g) - 2 <= 4 for g in char_ngrams("wonderful"))


def test_context_features_mark_an_organisation_sign_up_on_any_subdomain() -> None:
    c = ScreenContext(author_role=AuthorRole.STAFF, registration_email="Jo.Bloggs@Mail.IndependenceProject.co.uk")
    feats = context_features(c, ["independenceproject.co.uk"])
    assert {"role:staff", "signup", "signup:org_domain"} <= set(feats)
    other = context_features(ScreenContext(registration_email="jo@independenceproject.com"),
                             ["independenceproject.co.uk"])  # fmt: skip
    assert "signup" in other and "signup:org_domain" not in other


def test_symbols_keep_questions_and_emoji() -> None:
    assert symbols("really?? 😡") == ["?", "?", "😡"]


# --- the exported model equals the library ------------------------------------------------------

_TOY = [
    ("the door code for the centre is 4471", "staff", "block", ["SM-ACCESS", "SM-AFFILIATION"]),
    ("keypad at work is 1234 if ur on lates", "staff", "block", ["SM-ACCESS"]),
    ("wifi password for the office is Bluebell99", "volunteer", "block", ["SM-ACCESS"]),
    ("the code is the year the place opened", "staff", "review", ["SM-ACCESS"]),
    ("lovely walk on the beach today", "staff", "allow", []),
    ("my netflix password keeps getting changed", "family_member", "allow", []),
    ("fuming that Independence Project cancelled club again", "family_member", "block", ["SM-COMPLAINT"]),
    ("is it just me or has the centre gone downhill", "family_member", "review", ["SM-COMPLAINT"]),
    ("not happy with the centre lately", "service_user", "review", ["SM-COMPLAINT"]),
    ("great bake sale at the school fete", "unknown", "allow", []),
    ("new trainers arrived, buzzing", "service_user", "allow", []),
    ("Independence Project are a disgrace, shut them down", "unknown", "block", ["SM-COMPLAINT"]),
]


def _toy_records() -> list[dict]:
    out = []
    for i, (text, role, verdict, rules) in enumerate(_TOY * 3):
        out.append({"id": f"toy-{i}", "batch": f"toy{i % 6}", "text": f"{text} {'!' * (i // len(_TOY))}".strip(),
                    "author_role": role, "platform": "twitter",
                    "context": {"prior_authority": False, "registration_email": None, "account": "personal"},
                    "expected_verdict": verdict, "expected_rules": rules})  # fmt: skip
    return out


#: The exported model, its training data, and the scikit-learn vectoriser and heads it was exported from.
ToyModel = tuple[ClauseModel, training.Featurised, training._Vectors, list[Any]]


@pytest.fixture(scope="module")
def toy_model(pack: PolicyPack, tmp_path_factory: pytest.TempPathFactory) -> ToyModel:
    data = training.featurise(pack, _toy_records(), Screener(pack))
    training.MIN_DF = 1  # the toy set is tiny; restored below
    try:
        z = training.out_of_fold(data, 8.0, 3)
        a, b, thresholds = training.choose(data, z, pack)
        raw = training.export(pack, data, 8.0, a, b, thresholds, {})
        vec = training._Vectors(data.text, data.meta)
        heads = training._fit_heads(vec.transform(data.text, data.meta), data.labels, data.masks, 8.0)
    finally:
        training.MIN_DF = 2
    path = tmp_path_factory.mktemp("model") / "toy.npz"
    path.write_bytes(raw)
    return ClauseModel(path), data, vec, heads


def test_exported_weights_score_exactly_like_scikit_learn(toy_model: ToyModel, pack: PolicyPack) -> None:
    model, data, vec, heads = toy_model
    x = vec.transform(data.text, data.meta)
    library = np.column_stack([h.decision_function(x) for h in heads])
    screener = Screener(pack)
    ours = []
    for rec in data.records:
        a = screener.analyse(rec["text"], ScreenContext(author_role=rec["author_role"], platform="twitter"))
        ours.append(model.decision(a.doc.words, symbols(a.doc.text), a.meta))
    # float32 weights: equal to the library within single-precision rounding
    np.testing.assert_allclose(np.array(ours), library, atol=1e-4)
    assert model.heads == training.heads_of(pack)


def test_training_is_deterministic_whatever_the_number_of_threads(pack: PolicyPack) -> None:
    data = training.featurise(pack, _toy_records(), Screener(pack))
    training.MIN_DF = 1
    try:
        runs = []
        for jobs in (1, 3):
            z = training.out_of_fold(data, 8.0, 3, jobs)
            a, b, thresholds = training.choose(data, z, pack)
            runs.append(training.export(pack, data, 8.0, a, b, thresholds, {}, jobs))
    finally:
        training.MIN_DF = 2
    assert runs[0] == runs[1]


# --- loading and refusing -----------------------------------------------------------------------


def test_the_shipped_model_loads_and_is_stamped_into_the_engine_version(pack: PolicyPack) -> None:
    screener = build_screener(pack)
    assert screener.model is not None
    assert screener.engine_version.endswith(screener.model.version)
    assert screener.model.pack_version == pack.policy_version
    assert artifact_path(pack.name).stat().st_size <= 50 * 1024 * 1024
    assert load_model(pack.name) is load_model(pack.name)  # loaded once per process


def test_a_model_trained_for_another_pack_version_is_refused(pack: PolicyPack, tmp_path: Path) -> None:
    src = artifact_path(pack.name)
    dst = tmp_path / "other.npz"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "meta.npy":
                arr = np.load(__import__("io").BytesIO(data))
                meta = json.loads(str(arr))
                meta["pack_version"] = "0.0.0+deadbeef"
                buf = __import__("io").BytesIO()
                np.save(buf, np.array(json.dumps(meta)))
                data = buf.getvalue()
            zout.writestr(item, data)
    with pytest.raises(ModelError, match="run `make train`"):
        Screener(pack, model=ClauseModel(dst))


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_a_missing_or_malformed_artifact_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="clause model"):
        ClauseModel(path)
    with pytest.raises(ModelError, match="make train"):
        load_model("no_such_pack", tmp_path / "absent.npz")


# --- fusion -------------------------------------------------------------------------------------

SPECS = [
    ClauseSpec("SM-DEBATE", waived_by_authority=True),
    ClauseSpec("SM-COMPLAINT"),
    ClauseSpec("SM-ACCESS"),
    ClauseSpec("SM-ORG-EMAIL"),
    ClauseSpec("SM-AFFILIATION", informational=True, insiders_only=True),
]
TH = {"SM-DEBATE": 0.5, "SM-COMPLAINT": 0.5, "SM-ACCESS": 0.5, "SM-ORG-EMAIL": 0.5, "SM-AFFILIATION": 0.5,
      FLAG_HEAD: 0.5, BLOCK_HEAD: 0.5}  # fmt: skip


def _probs(**kw: float) -> dict[str, float]:
    base = {s.rule_id: 0.0 for s in SPECS} | {f"{s.rule_id}:block": 0.0 for s in SPECS} | {FLAG_HEAD: 0.0}
    return base | {k.replace("_", "-").replace("-block", ":block"): v for k, v in kw.items()}


def test_fusion_blocks_on_a_strong_clause_and_lists_it_with_its_own_action() -> None:
    p = _probs(**{"SM_COMPLAINT": 0.9, "SM_COMPLAINT_block": 0.9, "SM_ACCESS": 0.6, "flag": 0.9})
    d = decide(p, TH, SPECS, insider=False, prior_authority=False)
    assert d.verdict is Verdict.BLOCK
    assert d.clauses["SM-COMPLAINT"][0] is Verdict.BLOCK
    assert d.clauses["SM-ACCESS"][0] is Verdict.REVIEW


def test_fusion_names_the_most_probable_clause_when_flagged_without_a_clear_one() -> None:
    p = _probs(**{"SM_ACCESS": 0.3, "SM_COMPLAINT": 0.2, "flag": 0.7})
    d = decide(p, TH, SPECS, insider=False, prior_authority=False)
    assert d.verdict is Verdict.REVIEW and set(d.clauses) == {"SM-ACCESS"}


def test_a_flag_with_no_plausible_clause_is_not_sent_to_review() -> None:
    p = _probs(**{"SM_ACCESS": 0.3, "SM_COMPLAINT": 0.2, "flag": 0.7})  # access at 0.6 of its threshold
    assert review_support(p, TH, SPECS, insider=False, prior_authority=False) == pytest.approx(0.6)
    assert decide(p, TH | {PLAUSIBLE: 0.5}, SPECS, insider=False, prior_authority=False).verdict is Verdict.REVIEW
    low = decide(p, TH | {PLAUSIBLE: 0.7}, SPECS, insider=False, prior_authority=False)
    assert low.verdict is Verdict.ALLOW and low.clauses == {}
    # A clause past its own threshold always supports a review; a waived one never does.
    assert review_support(_probs(SM_COMPLAINT=0.6), TH, SPECS, insider=False, prior_authority=False) == math.inf
    debate = _probs(SM_DEBATE=0.4)
    assert review_support(debate, TH, SPECS, insider=True, prior_authority=True) == 0.0
    # A block does not need it: the block score already names a strong clause.
    strong = _probs(**{"SM_COMPLAINT": 0.45, "SM_COMPLAINT_block": 0.95, "flag": 0.95})
    assert decide(strong, TH | {BLOCK_HEAD: 0.3, PLAUSIBLE: 0.95}, SPECS, insider=False,
                  prior_authority=False).verdict is Verdict.BLOCK  # fmt: skip


def test_an_allowed_post_lists_only_the_informational_clause_for_insiders() -> None:
    p = _probs(**{"SM_COMPLAINT": 0.7, "SM_AFFILIATION": 0.9, "flag": 0.1})
    assert decide(p, TH, SPECS, insider=True, prior_authority=False).clauses.keys() == {"SM-AFFILIATION"}
    assert decide(p, TH, SPECS, insider=False, prior_authority=False).clauses == {}


def test_prior_authority_waives_debate_and_allows_a_post_flagged_for_debate_alone() -> None:
    p = _probs(**{"SM_DEBATE": 0.95, "SM_DEBATE_block": 0.9, "flag": 0.9})
    assert decide(p, TH, SPECS, insider=True, prior_authority=False).verdict is Verdict.BLOCK
    waived = decide(p, TH, SPECS, insider=True, prior_authority=True)
    assert waived.verdict is Verdict.ALLOW and "SM-DEBATE" not in waived.clauses


def test_exact_evidence_forces_its_clause_whatever_the_heads_say() -> None:
    d = decide(_probs(), TH, SPECS, insider=False, prior_authority=False, forced={"SM-ORG-EMAIL": Verdict.BLOCK})
    assert d.verdict is Verdict.BLOCK and d.clauses["SM-ORG-EMAIL"][0] is Verdict.BLOCK


# --- through the engine -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fused(pack: PolicyPack) -> Screener:
    return build_screener(pack)


def test_a_learned_finding_points_at_the_sentence_that_carries_it(fused: Screener) -> None:
    text = ("Lovely sunny morning for the school run. Honestly Independence Project have messed us about "
            "AGAIN, cancelled Saturday club with no notice, absolutely fuming. Anyway, coffee time.")  # fmt: skip
    res = fused.screen(text, ctx("family_member"))
    assert res.verdict is not Verdict.ALLOW
    finding = next(f for f in res.findings if f.rule_id == "SM-COMPLAINT")
    carried = [text[s.start : s.end] for s in finding.spans]
    assert any("cancelled" in c or "messed" in c or "fuming" in c for c in carried)
    assert not any(c.startswith("Lovely") for c in carried)
    assert finding.explanation.final_score == finding.confidence


def test_a_registration_on_the_org_domain_is_blocked_by_exact_evidence(fused: Screener) -> None:
    res = fused.screen("New account, hello everyone!",
                       ScreenContext(author_role=AuthorRole.STAFF, registration_email="sam.jones@independenceproject.co.uk"))  # fmt: skip
    assert res.verdict is Verdict.BLOCK and "SM-ORG-EMAIL" in res.rule_ids


def test_corporate_posts_stay_out_of_scope(fused: Screener) -> None:
    res = fused.screen(
        "Independence Project are a disgrace", ScreenContext(author_role=AuthorRole.CORPORATE, account="corporate")
    )
    assert res.verdict is Verdict.ALLOW and res.findings == ()


def test_evidence_of_a_learned_finding_is_redacted(fused: Screener) -> None:
    text = "ring Kayleigh's mum on 07700 900123, her lad from the centre kicked off again at club"
    res = fused.screen(text, ctx("staff"))
    assert res.verdict is not Verdict.ALLOW
    for f in res.findings:
        assert "900123" not in f.evidence
    assert "900123" not in res.suggested_text


def test_the_same_post_always_gets_the_same_result(fused: Screener) -> None:
    text = "cant believe what the trustees at the project decided last night, staff are gutted"
    assert fused.screen(text, ctx("staff")) == fused.screen(text, ctx("staff"))


#: Clear-cut posts on the clauses the model decides (once rules of the deterministic layer).
CLEAR_CASES: list[tuple[str, str, dict[str, Any], str, str | None]] = [
    ("Independence Project lost my son's coat again, not good enough", "family_member", {}, "block", "SM-COMPLAINT"),
    ("Funny how the centre finds money for a new sign but not for staff", "staff", {}, "review", "SM-COMPLAINT"),
    ("My manager Dave is useless and lazy", "staff", {}, "block", "SM-RELATIONSHIPS"),
    ("Some parents are so rude at pick up", "staff", {}, "review", "SM-RELATIONSHIPS"),
    ("Sieg heil lads, white power forever", "volunteer", {}, "block", "SM-REPUTATION"),
    ("Pulled a sickie to go to the races 😂", "staff", {}, "block", "SM-REPUTATION"),
    ("I work at Independence Project and the article is simply untrue", "staff", {}, "block", "SM-DEBATE"),
    ("There's more to this story than the paper says 🤐", "staff", {}, "review", "SM-DEBATE"),
    ("Northern trains are a shambles again", "staff", {}, "allow", None),
    ("shit day, bloody buses", "staff", {}, "allow", None),
    ("Someone called my son a retard today. Not okay.", "family_member", {}, "allow", None),
    ("Lovely walk along the canal with the dog this morning", "volunteer", {}, "allow", None),
]


def test_clear_cases_of_the_learned_clauses(fused: Screener) -> None:
    verdicts = rules = 0
    for text, role, extra, verdict, rule in CLEAR_CASES:
        res = fused.screen(text, ctx(role, **extra))
        verdicts += res.verdict.value == verdict
        rules += rule is None or rule in res.rule_ids
    # A statistical model: most, not all (the figures per clause are in `make evaluate`). The shipped
    # model gets 10 of 12 verdicts (it blocks a grumble about "some parents" and sends a train moan to
    # review) and names the expected clause on all 12.
    assert verdicts >= 9 and rules >= 11, (verdicts, rules)
