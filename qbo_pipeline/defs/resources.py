"""Dagster resources: the pipeline file, and the QuickBooks connection of each company."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg

from qbo_pipeline.config import PipelineConfig, load_config
from qbo_pipeline.sync import CompanySession, open_company


class PipelineResource(dg.ConfigurableResource):
    """The declarative pipeline file (sources, companies, rules); the built-in defaults when unset."""

    config_path: str | None = None

    def load(self) -> PipelineConfig:
        return load_config(self.config_path)


class QboResource(dg.ConfigurableResource):
    """QuickBooks access for the export assets.

    The OAuth client secret comes from the environment (``EnvVar``) and is only read when a
    run starts, so the definitions load without it. Tokens live encrypted in the ledger.
    """

    client_secret: str | None = None
    time_scale: float = 1.0

    @contextlib.contextmanager
    def session(self, config: PipelineConfig, company_key: str) -> Iterator[CompanySession]:
        with open_company(config, company_key, client_secret=self.client_secret, time_scale=self.time_scale) as session:
            yield session
