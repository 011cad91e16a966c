"""Score the screener on labelled posts: ``python -m app.screening.evaluate FILE.jsonl [--json]``.

Metrics:
- verdict accuracy and the 3x3 confusion matrix (expected x predicted);
- block recall = share of expected-block posts the engine blocks;
- false-block rate = share of expected-allow posts the engine blocks;
- per-rule precision/recall/F1/support, comparing the set of rule ids found (any action,
  SM-AFFILIATION included) with ``expected_rules``;
- macro F1 = mean F1 over the rules with support > 0 in the file (all eight rule ids, including
  SM-AFFILIATION, are eligible);
- misses grouped by rule (false negatives and false positives, with ids).

With ``--json`` the last line of stdout is one JSON object: n, verdict_accuracy, block_recall,
false_block_rate, macro_f1, rules. A progress bar goes to stderr for files over 500 posts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from app.policy.pack import load_pack
from app.screening.engine import Screener, build_screener
from app.screening.types import AuthorRole, ScreenContext

VERDICTS = ("allow", "review", "block")
_PROGRESS_MIN = 500


def context_of(record: Mapping[str, Any]) -> ScreenContext:
    """Build the screening context of one labelled record.

    Args:
        record: One JSON object in the evaluation format.

    Returns:
        The context (missing values take their defaults).

    """
    ctx = record.get("context") or {}
    role = record.get("author_role") or "unknown"
    account: Literal["personal", "corporate"] = ctx.get("account") or (
        "corporate" if role == "corporate" else "personal"
    )
    return ScreenContext(
        author_role=AuthorRole(role),
        platform=record.get("platform"),
        account=account,
        prior_authority=bool(ctx.get("prior_authority", False)),
        registration_email=ctx.get("registration_email"),
    )


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def evaluate(records: Iterable[Mapping[str, Any]], screener: Screener, *, progress: bool = False) -> dict[str, Any]:
    """Screen every record and compute the metrics.

    Args:
        records: Labelled posts (``text``, ``author_role``, ``context``, ``expected_verdict``,
            ``expected_rules``, optional ``id``).
        screener: The screener to test.
        progress: Draw a progress bar on stderr.

    Returns:
        A dict with n, verdict_accuracy, block_recall, false_block_rate, macro_f1, rules,
        confusion, macro_rules and misses.

    """
    records = list(records)
    total = len(records)
    rule_ids = [c.rule_id for c in screener.pack.clauses]
    confusion = {e: dict.fromkeys(VERDICTS, 0) for e in VERDICTS}
    counts = {r: {"tp": 0, "fp": 0, "fn": 0} for r in rule_ids}
    misses: dict[str, list[dict[str, Any]]] = {r: [] for r in rule_ids}
    verdict_misses: list[dict[str, Any]] = []
    correct = 0
    for i, rec in enumerate(records):
        result = screener.screen(str(rec.get("text", "")), context_of(rec))
        expected = str(rec.get("expected_verdict", "allow"))
        got = result.verdict.value
        confusion.setdefault(expected, dict.fromkeys(VERDICTS, 0))[got] += 1
        rid = rec.get("id", f"#{i + 1}")
        if got == expected:
            correct += 1
        else:
            verdict_misses.append({"id": rid, "expected": expected, "got": got})
        exp_rules = set(rec.get("expected_rules") or [])
        got_rules = set(result.rule_ids)
        for rule in rule_ids:
            if rule in exp_rules and rule in got_rules:
                counts[rule]["tp"] += 1
            elif rule in got_rules:
                counts[rule]["fp"] += 1
                misses[rule].append({"id": rid, "kind": "false_positive"})
            elif rule in exp_rules:
                counts[rule]["fn"] += 1
                misses[rule].append({"id": rid, "kind": "missed"})
        if progress:
            _progress(i + 1, total)
    if progress:
        sys.stderr.write("\n")
    rules: dict[str, dict[str, float]] = {}
    for rule, c in counts.items():
        p = _safe_div(c["tp"], c["tp"] + c["fp"])
        r = _safe_div(c["tp"], c["tp"] + c["fn"])
        f1 = _safe_div(2 * p * r, p + r)
        rules[rule] = {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f1, 4),
            "support": c["tp"] + c["fn"],
        }
    supported = [r for r in rule_ids if rules[r]["support"] > 0]
    expected_block = sum(confusion["block"].values())
    expected_allow = sum(confusion["allow"].values())
    return {
        "n": total,
        "verdict_accuracy": round(_safe_div(correct, total), 4),
        "block_recall": round(_safe_div(confusion["block"]["block"], expected_block), 4),
        "false_block_rate": round(_safe_div(confusion["allow"]["block"], expected_allow), 4),
        "block_flagged": round(_safe_div(expected_block - confusion["block"]["allow"], expected_block), 4),
        "macro_f1": round(_safe_div(sum(rules[r]["f1"] for r in supported), len(supported)), 4),
        "macro_rules": supported,
        "rules": rules,
        "confusion": confusion,
        "misses": {r: m for r, m in misses.items() if m},
        "verdict_misses": verdict_misses,
    }


def _progress(done: int, total: int) -> None:
    if done % 50 and done != total:
        return
    width = 40
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


def _report(m: dict[str, Any]) -> str:
    lines = [
        f"posts: {m['n']}",
        f"verdict accuracy: {m['verdict_accuracy']:.3f}",
        f"block recall:     {m['block_recall']:.3f}  (expected-block posts blocked)",
        f"false-block rate: {m['false_block_rate']:.3f}  (expected-allow posts blocked)",
        f"block flagged:    {m['block_flagged']:.3f}  (expected-block posts at least sent to review)",
        f"macro F1:         {m['macro_f1']:.3f}  (over {', '.join(m['macro_rules'])})",
        "",
        "confusion (rows expected, columns predicted):",
        "            " + "".join(f"{v:>8}" for v in VERDICTS),
    ]
    for e in VERDICTS:
        lines.append(f"  {e:<10}" + "".join(f"{m['confusion'][e][g]:>8}" for g in VERDICTS))
    lines += ["", f"{'rule':<18}{'prec':>7}{'rec':>7}{'f1':>7}{'support':>9}"]
    for rule, r in m["rules"].items():
        lines.append(f"{rule:<18}{r['precision']:>7.3f}{r['recall']:>7.3f}{r['f1']:>7.3f}{r['support']:>9}")
    lines += ["", "misses by rule:"]
    for rule, items in m["misses"].items():
        missed = [i["id"] for i in items if i["kind"] == "missed"]
        extra = [i["id"] for i in items if i["kind"] == "false_positive"]
        lines.append(f"  {rule}: missed {missed or '-'}; false positives {extra or '-'}")
    if m["verdict_misses"]:
        lines += ["", "verdict misses:"]
        lines += [f"  {v['id']}: expected {v['expected']}, got {v['got']}" for v in m["verdict_misses"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation command; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m app.screening.evaluate", description=__doc__)
    parser.add_argument("file", help="labelled posts, JSON Lines")
    parser.add_argument("--json", action="store_true", help="print one JSON object as last line")
    parser.add_argument("--pack", default=None, help="policy pack name or TOML path")
    args = parser.parse_args(argv)
    records = []
    try:
        with open(args.file, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        parser.exit(2, f"{args.file}:{lineno}: invalid JSON: {exc}\n")
    except OSError as exc:
        parser.exit(2, f"cannot read {args.file}: {exc}\n")
    screener = build_screener(load_pack(args.pack))
    metrics = evaluate(records, screener, progress=len(records) > _PROGRESS_MIN)
    if args.json:
        keys = ("n", "verdict_accuracy", "block_recall", "false_block_rate", "macro_f1", "rules")
        print(json.dumps({k: metrics[k] for k in keys}, sort_keys=False))
    else:
        print(_report(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
