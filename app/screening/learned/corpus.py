"""The labelled corpus the clause model learns from, and its validator (``make corpus-check``).

Layout (the folder is named by the pack's ``learned.corpus``)::

    corpus/<pack>/train/<batch>.jsonl   posts the model learns from, one file per writing batch
    corpus/<pack>/test/<batch>.jsonl    the sealed test split: batches whose writers wrote nothing else

Every line is one post in the evaluation format (``shared/eval/README.md``) plus its ``batch``.
External public sets named in the pack are read from their CSV, checked against their SHA-256, and
split by a stable hash of the row into a training share and a held-out share.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.policy.pack import PolicyPack, load_pack

REPO_ROOT = Path(__file__).resolve().parents[3]
SPLITS = ("train", "test")
ROLES = ("staff", "volunteer", "trustee", "service_user", "family_member", "corporate", "unknown")
INSIDERS = ("staff", "volunteer", "trustee")
PLATFORMS = ("twitter", "facebook", "instagram", "forum", "blog", "podcast", "linkedin", "tiktok", "other")
VERDICTS = ("allow", "review", "block")
KEYS = {"id", "batch", "text", "author_role", "platform", "context", "expected_verdict", "expected_rules", "rationale"}
CONTEXT_KEYS = {"prior_authority", "registration_email", "account"}
#: Minimums the corpus must meet (issue 13).
MIN_TRAIN_POSTS = 4000
MIN_TEST_POSTS = 800
MIN_POSITIVES = 250
NEAR_DUPLICATE = 0.7
_WORD = re.compile(r"\w+")


class CorpusError(RuntimeError):
    """The corpus or an external set is missing or does not match its recorded digest."""


def corpus_dir(pack: PolicyPack) -> Path:
    """Return the pack's corpus folder."""
    if pack.learned is None:
        raise CorpusError(f"policy pack {pack.name!r} has no [learned] section")
    return REPO_ROOT / pack.learned.corpus


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read one JSON Lines file (blank lines skipped); raise CorpusError naming a bad line."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path.name}:{n}: not JSON: {exc}") from exc
    return out


def load_split(pack: PolicyPack, split: str) -> list[dict[str, Any]]:
    """Return the posts of one split (``train`` or ``test``), in file then line order."""
    folder = corpus_dir(pack) / split
    if not folder.is_dir():
        raise CorpusError(f"corpus split not found: {folder}")
    return [rec for path in sorted(folder.glob("*.jsonl")) for rec in read_jsonl(path)]


def _bucket(key: str) -> float:
    """Return a stable number in [0, 1) for ``key`` (the held-out split of an external set)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def load_external(pack: PolicyPack, part: str, *, required: bool = True) -> list[dict[str, Any]]:
    """Return the records of the pack's external sets, ``train`` share or ``heldout`` share.

    Args:
        pack: The policy pack naming the sets.
        part: ``"train"`` or ``"heldout"``.
        required: Raise when a set is missing (training); otherwise skip it.

    Returns:
        Records in the evaluation format (role ``unknown``, platform ``twitter``), with ``batch``
        set to ``<name>:<fold>`` so grouped cross-validation spreads them over the folds.

    Raises:
        CorpusError: if a set is missing (when required) or its digest differs.

    """
    if pack.learned is None:
        return []
    out: list[dict[str, Any]] = []
    for source in pack.learned.external:
        path = (REPO_ROOT / source.path).resolve()
        if not path.is_file():
            if required:
                raise CorpusError(f"external set {source.name!r} not found at {path}")
            continue
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != source.sha256:
            raise CorpusError(f"external set {source.name!r} at {path} does not match its sha256")
        reader = csv.DictReader(raw.decode("utf-8").splitlines(keepends=True))
        for row in reader:
            label = source.labels.get(str(row[source.label_column]).strip())
            text = (row.get(source.text_column) or "").strip()
            if label is None or not text:
                continue
            key = f"{source.name}:{row.get('') or reader.line_num}"
            b = _bucket(key)
            if (b < source.train_share) != (part == "train"):
                continue
            out.append({
                "id": key, "batch": f"{source.name}:{int(b * 1000) % 5}", "text": text,
                "author_role": "unknown", "platform": "twitter",
                "context": {"prior_authority": False, "registration_email": None, "account": "personal"},
                "expected_verdict": label.verdict, "expected_rules": list(label.rules),
            })  # fmt: skip
    return out


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    if len(words) < 3:
        return {tuple(words)}
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def near_duplicates(
    records: Sequence[Mapping[str, Any]], others: Sequence[Mapping[str, Any]] = (), threshold: float = NEAR_DUPLICATE
) -> list[tuple[str, str, float]]:
    """Return ``(id, id, jaccard)`` for pairs whose word 3-gram sets overlap at ``threshold`` or more.

    Pairs are looked for within ``records`` and between ``records`` and ``others``. Word 3-grams
    shared by more than 40 posts (stock phrases) do not make two posts candidates.
    """
    items = [(str(r["id"]), _shingles(str(r["text"]))) for r in [*records, *others]]
    own = len(records)
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, (_, sh) in enumerate(items):
        for s in sh:
            index[s].append(i)
    shared: Counter[tuple[int, int]] = Counter()
    for posts in index.values():
        if len(posts) > 40:
            continue
        for x in range(len(posts)):
            for y in range(x + 1, len(posts)):
                if posts[x] < own:
                    shared[posts[x], posts[y]] += 1
    out = []
    for (i, j), n in shared.items():
        union = len(items[i][1]) + len(items[j][1]) - n
        jac = n / union if union else 1.0
        if jac >= threshold:
            out.append((items[i][0], items[j][0], round(jac, 3)))
    return sorted(out)


def record_problems(rec: Mapping[str, Any], pack: PolicyPack) -> list[str]:
    """Return what is wrong with one record: schema, and the labelling conventions' own rules.

    The conventions' label rules are read from the pack's clauses: an informational clause (saying
    where one works) never makes a post review or block and binds insiders only; a clause a prior
    authority waives is never listed with one; a sign-up on the organisation's email domain is a
    block under the ``org_email`` clause.
    """
    rules_known = {c.rule_id for c in pack.clauses}
    informational = {c.rule_id for c in pack.clauses if c.informational}
    insiders_only = {c.rule_id for c in pack.clauses if c.insiders_only}
    waived = {c.rule_id for c in pack.clauses if c.waived_by_authority}
    org_email = pack.clause_for_evidence("org_email")
    domains = [d.lower() for d in pack.organisation.email_domains]
    problems = []
    keys = set(rec)
    if keys != KEYS:
        problems.append(f"keys {sorted(keys ^ KEYS)} missing or unexpected")
        return problems
    text, role, ctx = rec["text"], rec["author_role"], rec["context"]
    verdict, rules = rec["expected_verdict"], rec["expected_rules"]
    if not isinstance(text, str) or not 10 <= len(text) <= 1500:
        problems.append("text must be a string of 10-1500 characters")
    if role not in ROLES:
        problems.append(f"author_role {role!r}")
    if rec["platform"] not in PLATFORMS:
        problems.append(f"platform {rec['platform']!r}")
    if not isinstance(ctx, dict) or set(ctx) != CONTEXT_KEYS:
        problems.append("context must have prior_authority, registration_email, account")
        return problems
    if verdict not in VERDICTS:
        problems.append(f"expected_verdict {verdict!r}")
    if not isinstance(rules, list) or not set(rules) <= rules_known or len(set(rules)) != len(rules):
        problems.append(f"expected_rules {rules!r}")
        return problems
    breach = [r for r in rules if r not in informational]
    if verdict == "allow" and breach:
        problems.append("an allow post lists no rule but an informational one")
    if verdict != "allow" and not breach:
        problems.append("a review or block post lists a rule that is not informational")
    if set(rules) & insiders_only and role not in INSIDERS:
        problems.append(f"{sorted(set(rules) & insiders_only)} only for staff, volunteers and trustees")
    if (ctx["account"] == "corporate") != (role == "corporate"):
        problems.append("account is corporate exactly when author_role is corporate")
    if role == "corporate" and (verdict != "allow" or rules):
        problems.append("corporate posts are allow with no rules")
    if ctx["prior_authority"] is True and set(rules) & waived:
        problems.append(f"prior authority waives {sorted(set(rules) & waived)}")
    email = ctx["registration_email"]
    if email is not None and (not isinstance(email, str) or "@" not in email):
        problems.append("registration_email must be null or an email address")
    elif email and role != "corporate" and org_email is not None:
        domain = email.rsplit("@", 1)[1].strip().lower()
        on_org = any(domain == d or domain.endswith("." + d) for d in domains)
        if on_org and not (org_email.rule_id in rules and verdict == "block"):
            problems.append(f"a sign-up on the organisation's domain is {org_email.rule_id} block")
    return problems


def check(pack: PolicyPack, dev: Path | None = None) -> tuple[list[str], dict[str, Any]]:
    """Validate the corpus; return the problems found and the counts.

    Args:
        pack: The policy pack whose corpus to check.
        dev: The development evaluation set, checked for near duplicates (optional).

    Returns:
        ``(problems, stats)``; the corpus is valid when ``problems`` is empty.

    """
    rule_ids = [c.rule_id for c in pack.clauses]
    problems: list[str] = []
    splits = {s: load_split(pack, s) for s in SPLITS}
    batches: dict[str, set[Any]] = {s: {r.get("batch") for r in recs} for s, recs in splits.items()}
    if batches["train"] & batches["test"]:
        problems.append(f"batches in both splits: {sorted(batches['train'] & batches['test'])}")
    folder = corpus_dir(pack)
    for split in SPLITS:
        for path in sorted((folder / split).glob("*.jsonl")):
            for rec in read_jsonl(path):
                if rec.get("batch") != path.stem:
                    problems.append(f"{rec.get('id')}: batch {rec.get('batch')!r} is not its file's {path.stem!r}")
    ids = Counter(r.get("id") for recs in splits.values() for r in recs)
    problems += [f"{i}: id used {n} times" for i, n in ids.items() if n > 1]
    for recs in splits.values():
        for rec in recs:
            problems += [f"{rec.get('id')}: {p}" for p in record_problems(rec, pack)]
    everything = splits["train"] + splits["test"]
    seen: dict[str, str] = {}
    for rec in everything:
        key = " ".join(_WORD.findall(str(rec["text"]).casefold()))
        if key in seen:
            problems.append(f"{rec['id']}: same text as {seen[key]}")
        seen.setdefault(key, str(rec["id"]))
    dev_records = read_jsonl(dev) if dev is not None and dev.is_file() else []
    for a, b, jac in near_duplicates(everything, dev_records):
        problems.append(f"{a} and {b}: near duplicates (word 3-gram Jaccard {jac})")
    stats: dict[str, Any] = {}
    for split, recs in splits.items():
        stats[split] = {
            "posts": len(recs),
            "batches": len(batches[split]),
            "verdicts": dict(Counter(r["expected_verdict"] for r in recs)),
            "rules": {rid: sum(rid in r["expected_rules"] for r in recs) for rid in rule_ids},
        }
    if len(splits["train"]) < MIN_TRAIN_POSTS:
        problems.append(f"train split has {len(splits['train'])} posts, fewer than {MIN_TRAIN_POSTS}")
    if len(splits["test"]) < MIN_TEST_POSTS:
        problems.append(f"test split has {len(splits['test'])} posts, fewer than {MIN_TEST_POSTS}")
    for rid, n in stats["train"]["rules"].items():
        if n < MIN_POSITIVES:
            problems.append(f"train split lists {rid} on {n} posts, fewer than {MIN_POSITIVES}")
    allow_share = stats["train"]["verdicts"].get("allow", 0) / max(1, len(splits["train"]))
    if not 0.25 <= allow_share <= 0.45:
        problems.append(f"train split is {allow_share:.0%} allow; about a third is expected")
    return problems, stats


def main(argv: list[str] | None = None) -> int:
    """Check the corpus: ``python -m app.screening.learned.corpus [--pack NAME] [--dev FILE]``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--pack", default=None, help="policy pack name or TOML path (default: the bundled one)")
    parser.add_argument("--dev", type=Path, default=REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl",
                        help="evaluation set to check for near duplicates (skipped when absent)")  # fmt: skip
    args = parser.parse_args(argv)
    pack = load_pack(args.pack)
    try:
        problems, stats = check(pack, args.dev)
    except CorpusError as exc:
        print(f"corpus-check: {exc}", file=sys.stderr)
        return 1
    for split, s in stats.items():
        print(f"{split}: {s['posts']} posts in {s['batches']} batches; verdicts {s['verdicts']}")
        print("  rules: " + ", ".join(f"{r} {n}" for r, n in s["rules"].items()))
    if not args.dev.is_file():
        print(f"(no {args.dev}: near duplicates against the development set not checked)")
    for p in problems:
        print(f"PROBLEM {p}")
    print(f"corpus-check: {'FAILED, ' + str(len(problems)) + ' problems' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
