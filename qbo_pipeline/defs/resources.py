"""Dagster resources: the pipeline file, the ledger (opened once per run), QuickBooks access."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
from pydantic import PrivateAttr

from qbo_pipeline import stages
from qbo_pipeline.config import PipelineConfig, load_config
from qbo_pipeline.ledger import Ledger


class PipelineResource(dg.ConfigurableResource):
    """The declarative pipeline file (sources, companies, rules); ``$QBO_PIPELINE_CONFIG`` or the defaults when unset."""

    config_path: str | None = None

    def load(self) -> PipelineConfig:
        return load_config(self.config_path)


class LedgerResource(dg.ConfigurableResource):
    """The sync ledger, opened once per run (or sensor tick) and closed at its end."""

    pipeline: PipelineResource
    _ledger: Ledger | None = PrivateAttr(default=None)

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[LedgerResource]:
        self._ledger = Ledger(self.pipeline.load().ledger.url)
        try:
            yield self
        finally:
            self._ledger.dispose()
            self._ledger = None

    def get(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("the ledger resource is used outside a run")
        return self._ledger


class QboResource(dg.ConfigurableResource):
    """QuickBooks access for the export.

    The OAuth client secret comes from the environment (``EnvVar("QBO_CLIENT_SECRET")``) and
    is read only when a run starts, so the definitions load without it; a company on the
    local sandbox uses the sandbox's development secret when it is unset. ``time_scale``
    scales the client's rate limiter with a sandbox started with ``--time-scale``.
    """

    client_secret: str | None = None
    time_scale: float = 1.0

    @contextlib.contextmanager
    def session(self, config: PipelineConfig, company_key: str, ledger: Ledger) -> Iterator[stages.CompanySession]:
        with stages.open_company(config, company_key, ledger=ledger, client_secret=self.client_secret,
                                 time_scale=self.time_scale) as session:
            yield session
