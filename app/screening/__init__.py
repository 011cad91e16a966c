"""Screening: the pure engine (engine, normalize, detectors, rules) plus its HTTP layer."""
