"""The screener's report card: ``python -m app.screening.learned.report`` (``make evaluate``).

Prints, for the shipped model:

* the development set (``../shared/eval/dev.jsonl``) and the corpus's sealed test split side by side:
  verdict accuracy, block recall, block-labelled posts flagged, false-block rate, macro F1, per-rule
  precision/recall/F1 and the confusion matrices;
* the held-out share of the pack's external tweets (never trained on): how often clean tweets are
  blocked or flagged, how often organisation-specific clauses fire, how often hateful ones are flagged;
* with ``--curve``, the learning curve: the whole training procedure rerun on 500, 1,000, 2,000 and
  all corpus posts (the external share is kept in every run), each scored on dev and the test split.

The sealed split is scored here and nowhere else; no choice is made from these figures.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from app.policy.pack import PolicyPack, load_pack
from app.screening.engine import Screener, build_screener
from app.screening.evaluate import VERDICTS, context_of, evaluate
from app.screening.learned.corpus import REPO_ROOT, load_external, load_split, read_jsonl
from app.screening.learned.model import ClauseModel

DEV = REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl"
CURVE_SIZES = (500, 1000, 2000)


def general_clauses(pack: PolicyPack) -> frozenset[str]:
    """Return the clauses the pack's external sets are labelled with.

    They apply without any mention of the organisation (abusive language), so they may fire on any
    public post; every other clause is organisation-specific.
    """
    if pack.learned is None:
        return frozenset()
    return frozenset(r for source in pack.learned.external for label in source.labels.values() for r in label.rules)


def tweet_rates(screener: Screener, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Return how the screener treats held-out external tweets (clean and hateful)."""
    general = general_clauses(screener.pack)
    informational = {c.rule_id for c in screener.pack.clauses if c.informational}
    clean = [r for r in records if r["expected_verdict"] == "allow"]
    hateful = [r for r in records if r["expected_verdict"] != "allow"]
    out: dict[str, Any] = {"clean": len(clean), "hateful": len(hateful)}
    blocked = flagged = org_specific = 0
    for rec in clean:
        res = screener.screen(rec["text"], context_of(rec))
        blocked += res.verdict.value == "block"
        flagged += res.verdict.value != "allow"
        org_specific += any(r not in general and r not in informational for r in res.rule_ids)
    hate_flagged = sum(screener.screen(r["text"], context_of(r)).verdict.value != "allow" for r in hateful)
    out["clean_blocked"] = round(blocked / max(1, len(clean)), 4)
    out["clean_flagged"] = round(flagged / max(1, len(clean)), 4)
    out["org_specific_fired"] = round(org_specific / max(1, len(clean)), 4)
    out["hateful_flagged"] = round(hate_flagged / max(1, len(hateful)), 4)
    return out


def _headline(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "verdict_accuracy", "block_recall", "block_flagged", "false_block_rate", "macro_f1")
    return {k: m[k] for k in keys}


def side_by_side(named: dict[str, dict[str, Any]]) -> str:
    """Format several evaluate() results as one table, a column each."""
    names = list(named)
    lines = [f"{'':<22}" + "".join(f"{n:>14}" for n in names)]
    for key in ("n", "verdict_accuracy", "block_recall", "block_flagged", "false_block_rate", "macro_f1"):
        cells = "".join(f"{named[n][key]:>14}" if key == "n" else f"{named[n][key]:>14.3f}" for n in names)
        lines.append(f"{key:<22}{cells}")
    lines.append("")
    lines.append(f"{'per rule (P / R / F1)':<22}" + "".join(f"{n:>22}" for n in names))
    for rule in named[names[0]]["rules"]:
        cells = ""
        for n in names:
            r = named[n]["rules"][rule]
            cells += f"{r['precision']:>7.2f}{r['recall']:>5.2f}{r['f1']:>5.2f} ({r['support']:>3})"
        lines.append(f"{rule:<22}{cells}")
    for n in names:
        lines += ["", f"confusion, {n} (rows expected, columns predicted):",
                  "            " + "".join(f"{v:>8}" for v in VERDICTS)]  # fmt: skip
        for e in VERDICTS:
            lines.append(f"  {e:<10}" + "".join(f"{named[n]['confusion'][e][g]:>8}" for g in VERDICTS))
    return "\n".join(lines)


def _trained_on(pack: PolicyPack, records: list[dict[str, Any]]) -> Screener:
    """Train a model on ``records`` exactly as ``make train`` would, and return a screener using it."""
    from app.screening.learned import train as training

    assert pack.learned is not None
    data = training.featurise(pack, records)
    jobs = training.default_jobs()
    z = training.out_of_fold(data, pack.learned.C, pack.learned.folds, jobs)
    a, b, thresholds = training.choose(data, z, pack)
    raw = training.export(pack, data, pack.learned.C, a, b, thresholds, {}, jobs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "curve.npz"
        path.write_bytes(raw)
        return Screener(pack, model=ClauseModel(path))


def learning_curve(pack: PolicyPack, dev: list[dict[str, Any]], test: list[dict[str, Any]],
                   shipped: Screener) -> list[dict[str, Any]]:  # fmt: skip
    """Retrain on growing samples of the corpus and score each model on dev and the test split.

    The last point, every corpus post, is the shipped model itself (``make train-check`` shows that
    retraining gives it byte for byte), so it is scored rather than trained a second time.
    """
    corpus = [r for r in load_split(pack, "train") if r["author_role"] != "corporate"]
    external = [r for r in load_external(pack, "train") if r["author_role"] != "corporate"]
    order = list(range(len(corpus)))
    random.Random(0).shuffle(order)
    rows = []
    for size in [s for s in CURVE_SIZES if s < len(corpus)] + [len(corpus)]:
        sample = [corpus[i] for i in sorted(order[:size])]
        screener = shipped if size == len(corpus) else _trained_on(pack, sample + external)
        row: dict[str, Any] = {"corpus_posts": size}
        for name, recs in (("dev", dev), ("test", test)):
            if recs:
                m = evaluate(recs, screener)
                row[name] = {k: m[k] for k in ("verdict_accuracy", "block_recall", "false_block_rate", "macro_f1")}
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the report; ``--json`` ends with one JSON object holding every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default=None, help="policy pack name or TOML path")
    parser.add_argument("--dev", type=Path, default=DEV, help="development set (skipped when absent)")
    parser.add_argument("--curve", action="store_true", help="also compute the learning curve (retrains 3 times)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--out", type=Path, default=None, help="also write the report (without --json) to FILE")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=FILE[,FILE]",
                        help="labelled JSONL files scored together in a column of their own (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    pack = load_pack(args.pack)
    screener = build_screener(pack)
    dev = read_jsonl(args.dev) if args.dev.is_file() else []
    test = load_split(pack, "test")
    results = {}
    if dev:
        results["dev"] = evaluate(dev, screener)
    results["sealed test"] = evaluate(test, screener)
    for extra in args.extra:
        name, _, paths = extra.partition("=")
        results[name] = evaluate([r for p in paths.split(",") for r in read_jsonl(Path(p))], screener)
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    emit(f"engine {screener.engine_version}, policy {pack.policy_version}")
    emit(side_by_side(results))
    tweets = tweet_rates(screener, load_external(pack, "heldout", required=False))
    emit("\nheld-out real tweets (never trained on, never about the organisation):")
    if tweets["clean"] or tweets["hateful"]:
        emit(
            f"  {tweets['clean']} clean: blocked {tweets['clean_blocked']:.1%}, "
            f"flagged {tweets['clean_flagged']:.1%}, "
            f"an organisation-specific clause listed on {tweets['org_specific_fired']:.1%}"
        )
        emit(f"  {tweets['hateful']} hateful: flagged {tweets['hateful_flagged']:.1%}")
    else:
        emit("  (the external set is not here: skipped)")
    summary: dict[str, Any] = {name: _headline(m) | {"rules": {r: v["f1"] for r, v in m["rules"].items()}}
                               for name, m in results.items()}  # fmt: skip
    summary["tweets"] = tweets
    if args.curve:
        curve = learning_curve(pack, dev, test, screener)
        emit("\nlearning curve (corpus posts -> dev / test: accuracy, block recall, false-block, macro F1):")
        for row in curve:
            cells = "   ".join(
                f"{n} {row[n]['verdict_accuracy']:.3f} {row[n]['block_recall']:.3f} "
                f"{row[n]['false_block_rate']:.3f} {row[n]['macro_f1']:.3f}"
                for n in ("dev", "test")
                if n in row
            )
            emit(f"  {row['corpus_posts']:>5}: {cells}")
        summary["learning_curve"] = curve
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
