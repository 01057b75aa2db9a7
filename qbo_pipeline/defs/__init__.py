"""Dagster definitions: thin assets, checks, sensors and resources over the modules above."""
