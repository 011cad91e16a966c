"""Detector registry: every detector is listed once in ``DETECTOR_CLASSES`` and nowhere else."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from app.policy.pack import PolicyPack
from app.screening.detectors.affiliation import AffiliationDetector
from app.screening.detectors.base import BaseDetector, Detector, Doc, LexiconDetector, Signal
from app.screening.detectors.complaint import ComplaintDetector
from app.screening.detectors.debate import DebateDetector
from app.screening.detectors.internal import InternalMattersDetector
from app.screening.detectors.offensive import OffensiveDetector
from app.screening.detectors.org_email import OrgEmailDetector
from app.screening.detectors.org_mention import OrgMentionDetector
from app.screening.detectors.personal_data import PersonalDataDetector
from app.screening.detectors.relationships import RelationshipsDetector
from app.screening.detectors.secrets import SecretsDetector

__all__ = [
    "DETECTOR_CLASSES",
    "BaseDetector",
    "Detector",
    "DetectorRegistry",
    "Doc",
    "LexiconDetector",
    "Signal",
    "default_registry",
]

#: The one explicit list of detectors. Adding a detector means adding its class here.
DETECTOR_CLASSES: tuple[type[BaseDetector], ...] = (
    OrgMentionDetector,
    AffiliationDetector,
    DebateDetector,
    ComplaintDetector,
    RelationshipsDetector,
    OffensiveDetector,
    PersonalDataDetector,
    SecretsDetector,
    OrgEmailDetector,
    InternalMattersDetector,
)


class DetectorRegistry:
    """An ordered, name-unique collection of detectors.

    Args:
        detectors: Initial detectors, in run order.

    """

    def __init__(self, detectors: Iterable[Detector] = ()) -> None:
        self._detectors: dict[str, Detector] = {}
        for detector in detectors:
            self.add(detector)

    def add(self, detector: Detector) -> None:
        """Register a detector.

        Args:
            detector: Any object satisfying the :class:`Detector` protocol.

        Raises:
            ValueError: if a detector with the same name is already registered.
            TypeError: if ``detector`` does not satisfy the protocol.

        """
        if not isinstance(detector, Detector):
            raise TypeError(f"{detector!r} is not a Detector")
        if detector.name in self._detectors:
            raise ValueError(f"detector {detector.name!r} is already registered")
        self._detectors[detector.name] = detector

    def remove(self, name: str) -> None:
        """Unregister the detector called ``name``.

        Args:
            name: Detector name.

        Raises:
            KeyError: if no such detector is registered.

        """
        if name not in self._detectors:
            raise KeyError(f"no detector named {name!r}")
        del self._detectors[name]

    def for_categories(self, categories: Iterable[str]) -> list[Detector]:
        """Return the detectors that serve any of ``categories`` (concepts of the policy), in run order.

        Args:
            categories: Concepts such as ``"access"`` (see each detector's ``categories``).

        Returns:
            Matching detectors.

        """
        wanted = set(categories)
        return [d for d in self._detectors.values() if wanted & set(d.categories)]

    def names(self) -> list[str]:
        """Return registered detector names in run order."""
        return list(self._detectors)

    def lexicon_keys(self) -> set[str]:
        """Return every lexicon category any registered detector needs scanned."""
        keys: set[str] = set()
        for d in self._detectors.values():
            keys.update(getattr(d, "lexicons", ()))
        return keys

    def __iter__(self) -> Iterator[Detector]:
        return iter(list(self._detectors.values()))

    def __len__(self) -> int:
        return len(self._detectors)

    def __contains__(self, name: object) -> bool:
        return name in self._detectors


def default_registry(pack: PolicyPack) -> DetectorRegistry:
    """Build the standard registry from ``DETECTOR_CLASSES``.

    Args:
        pack: The validated policy pack the detectors compile their lexicons and patterns from.

    Returns:
        A new registry with every standard detector.

    """
    return DetectorRegistry(cls(pack) for cls in DETECTOR_CLASSES)
