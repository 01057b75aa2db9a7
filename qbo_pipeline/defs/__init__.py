"""Dagster wiring over the stage API: one asset graph, companies as a dynamic partition.

No business rule, outcome arithmetic or change detection lives here: the assets call
``stages.sync_company`` and report its typed result; the sensor asks ``stages.pending_changes``.
"""
