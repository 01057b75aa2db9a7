"""Canonical billing model, SQL extraction, source mappings and the demo database."""
