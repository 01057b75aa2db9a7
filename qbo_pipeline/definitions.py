"""The Dagster code location (see workspace.yaml)."""

import dagster as dg

defs = dg.Definitions()
