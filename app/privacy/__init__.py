"""Retention and erasure of personal data (UK GDPR), and export of what is held about a person."""
