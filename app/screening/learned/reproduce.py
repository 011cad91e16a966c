"""Check that ``make train`` reproduces the shipped model: ``python -m app.screening.learned.reproduce``.

Retrains into memory from the corpus and the pack, then compares with the shipped artifact: equal
bytes pass at once; otherwise (another library version, say) every corpus post must get the same
verdict and clauses from both models and head probabilities within ``TOLERANCE``. Exits 1 on a
difference, naming how many posts differ, so a corpus or pack edit without ``make train`` fails CI.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from app.policy.pack import load_pack
from app.screening.engine import Screener
from app.screening.evaluate import context_of
from app.screening.learned.corpus import CorpusError, load_split
from app.screening.learned.model import ClauseModel, ModelError, artifact_path
from app.screening.learned.train import train

TOLERANCE = 1e-4


def main(argv: list[str] | None = None) -> int:
    """Retrain and compare; return 0 when the shipped model is reproduced."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default=None, help="policy pack name or TOML path")
    args = parser.parse_args(argv)
    pack = load_pack(args.pack)
    shipped_path = artifact_path(pack.name)
    try:
        shipped = ClauseModel(shipped_path)
    except ModelError as exc:
        print(f"train-check: {exc}", file=sys.stderr)
        return 1
    try:
        raw, _ = train(pack, log=lambda _msg: None)
    except CorpusError as exc:
        # CI always has the external sets beside the clone; a laptop without them cannot retrain.
        if os.environ.get("CI"):
            print(f"train-check: {exc}", file=sys.stderr)
            return 1
        print(f"train-check: skipped, {exc}")
        return 0
    if raw == shipped_path.read_bytes():
        print(f"train-check: ok, retraining gives the shipped artifact byte for byte ({shipped.version})")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "retrained.npz"
        path.write_bytes(raw)
        fresh = ClauseModel(path)
    try:
        old, new = Screener(pack, model=shipped), Screener(pack, model=fresh)
    except ModelError as exc:
        print(f"train-check: {exc}", file=sys.stderr)
        return 1
    records = load_split(pack, "train") + load_split(pack, "test")
    differ, drift = 0, 0.0
    for rec in records:
        ctx = context_of(rec)
        a, b = old.screen(rec["text"], ctx), new.screen(rec["text"], ctx)
        differ += (a.verdict, a.rule_ids) != (b.verdict, b.rule_ids)
        pa, pb = old.probabilities(old.analyse(rec["text"], ctx)), new.probabilities(new.analyse(rec["text"], ctx))
        drift = max(drift, max(abs(pa[h] - pb[h]) for h in pa))
    if differ or drift > TOLERANCE:
        print(f"train-check: FAILED, retraining changes {differ} of {len(records)} decisions "
              f"(largest probability change {drift:.2g}): run `make train` and commit the artifact")  # fmt: skip
        return 1
    print(f"train-check: ok, same decisions on {len(records)} posts (largest probability change {drift:.2g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
