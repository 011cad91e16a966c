"""The trained clause classifiers, served from exported weights (numpy only, no scikit-learn).

``make train`` fits one logistic-regression head per clause (plus a "flagged" and a "block" head
for the verdict) on TF-IDF text features and binary meta features, then exports, per feature, the
IDF and one weight per head. Scoring a post is then one pass over its features: look up each
feature's row, weight it by ``(1 + ln tf) * idf``, L2-normalise the text block, add the meta rows and
the bias, and apply each head's Platt calibration. ``tests/screening/test_learned.py`` checks that
this equals the library's own predictions.

The artifact is a compressed ``.npz`` file, loaded once at start-up; its digest is stamped into the
engine version so a decision can be traced to the exact weights that made it.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from app.screening.learned.features import char_ngrams, word_shape

#: Bump when the artifact layout or the feature functions change (old artifacts are refused).
FORMAT_VERSION = 1
_WORD_CACHE_LIMIT = 200_000


class ModelError(RuntimeError):
    """The model artifact is missing, malformed, or does not belong to the policy pack."""


class ClauseModel:
    """Exported clause classifiers.

    Args:
        path: The ``.npz`` artifact written by ``app.screening.learned.train``.

    Raises:
        ModelError: if the file is missing or malformed.

    """

    def __init__(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelError(f"cannot read clause model {path}: {exc}") from exc
        try:
            self.meta: dict[str, Any] = json.loads(str(arrays["meta"]))
            if self.meta.get("format") != FORMAT_VERSION:
                raise ModelError(f"clause model {path.name} has format {self.meta.get('format')}, "
                                 f"this engine reads {FORMAT_VERSION}: run `make train`")  # fmt: skip
            self.heads: tuple[str, ...] = tuple(self.meta["heads"])
            vocab = str(arrays["vocab"]).split("\n") if arrays["vocab"].size else []
            meta_vocab = str(arrays["meta_vocab"]).split("\n") if arrays["meta_vocab"].size else []
            self._index = {f: i for i, f in enumerate(vocab)}
            # Word pairs keyed by the two shapes (their hashes are cached), not by a string built per pair.
            self._pairs = {tuple(f[2:].split(" ", 1)): i for i, f in enumerate(vocab) if f.startswith("b:")}
            self._meta_index = {f: i for i, f in enumerate(meta_vocab)}
            self._idf = arrays["idf"].astype(np.float64)
            self._w_text = np.ascontiguousarray(arrays["w_text"], dtype=np.float32)
            self._w_meta = np.ascontiguousarray(arrays["w_meta"], dtype=np.float32)
            self._bias = arrays["bias"].astype(np.float64)
            self._calib_a = arrays["calib_a"].astype(np.float64)
            self._calib_b = arrays["calib_b"].astype(np.float64)
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"clause model {path.name} is malformed: {exc}") from exc
        shapes_ok = (
            self._w_text.shape == (len(vocab), len(self.heads))
            and self._w_meta.shape == (len(meta_vocab), len(self.heads))
            and self._idf.shape == (len(vocab),)
            and self._bias.shape == self._calib_a.shape == self._calib_b.shape == (len(self.heads),)
        )
        if not shapes_ok:
            raise ModelError(f"clause model {path.name} is malformed: array shapes disagree")
        #: Decision thresholds chosen by grouped cross-validation (see ``fusion.decide``).
        self.thresholds: dict[str, float] = {h: float(t) for h, t in self.meta["thresholds"].items()}
        self.digest = hashlib.sha256(raw).hexdigest()
        self._head_pos = {h: i for i, h in enumerate(self.heads)}
        self._word_cache: dict[str, tuple[str, bytes, int]] = {}

    @property
    def pack_version(self) -> str:
        """Return the policy_version of the pack the model was trained with."""
        return str(self.meta["pack_version"])

    @property
    def version(self) -> str:
        """Return a short, stable version string (``model.<12 hex of the artifact digest>``)."""
        return f"model.{self.digest[:12]}"

    def head(self, name: str) -> int:
        """Return the column of head ``name``."""
        return self._head_pos[name]

    def _word(self, word: str) -> tuple[str, bytes, int]:
        """Return a word's shape, the rows of its unigram and character n-grams, and its unigram's row.

        Cached. The rows are packed int64 bytes, not a tuple of ints: a post's rows are then one bytes
        join and one numpy view, with no Python int object to visit, which keeps scoring out of cold
        memory. The unigram's row is -1 when the word is not in the vocabulary.
        """
        hit = self._word_cache.get(word)
        if hit is None:
            shaped = word_shape(word)
            index = self._index
            rows = array("q", [i for f in ("w:" + shaped, *char_ngrams(shaped)) if (i := index.get(f)) is not None])
            if len(self._word_cache) >= _WORD_CACHE_LIMIT:
                self._word_cache.clear()  # Zipf: the common words come straight back
            hit = self._word_cache[word] = (shaped, rows.tobytes(), index.get("w:" + shaped, -1))
        return hit

    def _text_rows(self, words: list[str], symbols: list[str]) -> np.ndarray:
        """Return the rows of a post's text features (with repeats), as int64."""
        parts: list[bytes] = []
        shaped: list[str] = []
        word = self._word
        for w in words:
            shape, word_rows, _ = word(w)
            shaped.append(shape)
            parts.append(word_rows)
        pair = self._pairs.get
        extra = array("q", [i for p in zip(shaped, shaped[1:], strict=False) if (i := pair(p)) is not None])
        get = self._index.get
        for s in symbols:
            row = get("p:" + s)
            if row is not None:
                extra.append(row)
        parts.append(extra.tobytes())
        return np.frombuffer(b"".join(parts), dtype=np.int64)

    def decision(self, words: list[str], symbols: list[str], meta: list[str]) -> np.ndarray:
        """Return each head's raw decision value (before calibration).

        Args:
            words: Word tokens of the normalised text.
            symbols: Punctuation and emoji of the normalised text (see ``features``).
            meta: Meta feature names (context and detector signals).

        Returns:
            An array with one value per head, in ``self.heads`` order.

        """
        z = self._bias.copy()
        rows = self._text_rows(words, symbols)
        if rows.size:
            # np.unique(rows, return_counts=True), without its generic wrapping (a few µs a post).
            ordered = np.sort(rows)
            first = np.empty(ordered.size + 1, dtype=bool)
            first[0] = first[-1] = True
            np.not_equal(ordered[1:], ordered[:-1], out=first[1:-1])
            idx = ordered[first[:-1]]
            counts = np.diff(np.flatnonzero(first))
            v = (1.0 + np.log(counts)) * self._idf[idx]
            norm = math.sqrt(float(v @ v))
            if norm > 0:
                z += (v / norm).astype(np.float32) @ self._w_text[idx]
        meta_rows = [i for f in meta if (i := self._meta_index.get(f)) is not None]
        if meta_rows:
            z += self._w_meta[meta_rows].sum(axis=0)
        return z

    def sentence_weights(self, sentences: list[list[str]], columns: list[int]) -> np.ndarray:
        """Return, per sentence and head column, the summed ``idf x weight`` of its words and word pairs.

        An attribution, not a score: it says which sentence's words pushed a head up the most, in one
        vectorised pass over every sentence (the span a learned finding points at).
        """
        cached = self._word_cache.get
        word = self._word
        pair = self._pairs.get
        rows: list[int] = []
        starts: list[int] = []
        for words in sentences:
            starts.append(len(rows))
            entries = [cached(w) or word(w) for w in words]
            rows.extend(e[2] for e in entries if e[2] >= 0)
            shaped = [e[0] for e in entries]
            rows.extend(i for p in zip(shaped, shaped[1:], strict=False) if (i := pair(p)) is not None)
        out = np.zeros((len(sentences), len(columns)))
        if not rows:
            return out
        idx = np.array(rows, dtype=np.int64)
        contrib = self._w_text[idx][:, columns] * self._idf[idx][:, None]
        ends = [*starts[1:], len(rows)]
        nonempty = [n for n, (start, end) in enumerate(zip(starts, ends, strict=True)) if start < end]
        sums = np.add.reduceat(contrib, [starts[n] for n in nonempty], axis=0)
        out[nonempty] = sums
        return out

    def probabilities(self, words: list[str], symbols: list[str], meta: list[str]) -> np.ndarray:
        """Return each head's calibrated probability, in ``self.heads`` order."""
        z = self.decision(words, symbols, meta)
        return 1.0 / (1.0 + np.exp(-(self._calib_a * z + self._calib_b)))


MODELS_DIR = Path(__file__).parent / "models"


def artifact_path(pack_name: str) -> Path:
    """Return where the clause model of pack ``pack_name`` is shipped."""
    return MODELS_DIR / f"{pack_name}.npz"


_LOADED: dict[Path, ClauseModel] = {}


def load_model(pack_name: str, path: Path | None = None) -> ClauseModel:
    """Load (once per process) the clause model of a pack.

    Args:
        pack_name: The pack's name (the artifact is ``models/<name>.npz``).
        path: Another artifact to load instead.

    Returns:
        The model, shared by every caller in the process (it is read-only).

    Raises:
        ModelError: if the artifact is missing or malformed.

    """
    path = path or artifact_path(pack_name)
    model = _LOADED.get(path)
    if model is None:
        if not path.is_file():
            raise ModelError(f"no clause model for policy pack {pack_name!r} at {path}: run `make train`")
        model = _LOADED[path] = ClauseModel(path)
    return model
