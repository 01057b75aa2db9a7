"""The declarative pipeline file: one YAML whose defaults run the demo with no edits.

Loading merges the user's file over ``defaults.yaml``, expands ``${VAR}`` references and
validates every key, so a typo is reported with the file, the key and what is allowed
instead of being silently ignored.
"""

from __future__ import annotations

import os
import re
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
CONFIG_ENV = "QBO_PIPELINE_CONFIG"
STATE_DIR_ENV = "QBO_PIPELINE_STATE_DIR"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A configuration file that cannot be used, with the file and key named."""


def state_dir() -> Path:
    """Folder for local state (Dagster home, demo source, ledger, sandbox data)."""
    return Path(os.environ.get(STATE_DIR_ENV, "var")).resolve()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    url: str
    mapping: str = "canonical"


class LedgerConfig(_Section):
    url: str


class CompanyConfig(_Section):
    key: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    source: SourceConfig | None = None  # this company's billing database; the pipeline's `source` when unset
    environment: Literal["local", "sandbox", "production"] = "local"
    realm_id: str | None = None
    base_url: str | None = None
    discovery_url: str | None = None
    client_id: str = "local-client-id"
    client_secret_env: str = "QBO_CLIENT_SECRET"
    redirect_uri: str = "http://127.0.0.1:8765/callback"

    @field_validator("base_url", "discovery_url", "realm_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value


class OptionsConfig(_Section):
    sync_start_date: date = date(2024, 1, 1)
    export_unpaid_before_start: bool = True
    aggregate_lines: bool = False
    generic_item: str = "Billing"
    credit_item: str = "Credit"
    write_off_item: str = "Write-off"
    bad_debt_item: str = "Bad debt"
    apply_credits_to_invoices: bool = True
    write_off_closed_unpaid: bool = False
    disambiguation: Literal["email", "source_id"] = "email"
    name_max_length: int = Field(100, ge=1, le=500)
    product_name_tokens: bool = True  # a product name with {description}... is a template: one item per filled name
    description_max_length: int = Field(4000, ge=1, le=4000)
    home_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    max_quarantine_rate: float = Field(0.05, ge=0.0, le=1.0)
    tip_item: str = "Tips"  # item of the tip line of a sales receipt
    summarize: dict[Literal["sales_receipts"], Literal["daily"]] = Field(default_factory=dict)


class AccountsConfig(_Section):
    income: str = "Sales of Product Income"
    service_income: str = "Services"
    discount: str = "Discounts given"
    deposit: str = "Undeposited Funds"
    refund: str | None = None
    inventory_asset: str = "Inventory Asset"
    cost_of_goods_sold: str = "Cost of Goods Sold"
    bad_debt: str = "Bad debts"


class TaxesConfig(_Section):
    mode: Literal["us", "mapped"] = "us"
    map: dict[str, str] = Field(default_factory=dict)
    non_taxable_codes: list[str] = Field(default_factory=lambda: ["NON", "NONE", "EXEMPT", "ZERO", "0"])
    default_code: str | None = None
    global_calculation: Literal["TaxExcluded", "TaxInclusive", "NotApplicable"] = "TaxExcluded"
    # mode mapped: QBO TaxCode name -> {QBO TaxRate name: percent}, in the code's order. With it,
    # tax as billed goes out as one TaxLine per rate (docs/tax.md); without, as TotalTax only.
    rates: dict[str, dict[str, float]] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _percents(cls, rates: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        wrong = {code: shares for code, shares in rates.items()
                 if not shares or any(not 0 <= p <= 100 for p in shares.values())}
        if wrong:
            raise ValueError(f"taxes.rates: every code needs at least one rate, each a percent 0-100, got {wrong}")
        return rates

    @property
    def inclusive(self) -> bool:
        """Source amounts include tax (non-US company, ``global_calculation: TaxInclusive``)."""
        return self.mode == "mapped" and self.global_calculation == "TaxInclusive"

    @model_validator(mode="after")
    def _mapped_needs_codes(self) -> TaxesConfig:
        if self.mode == "mapped" and not self.map and self.default_code is None:
            raise ValueError("mode 'mapped' needs taxes.map entries (source code -> QBO tax code) or a default_code")
        return self

    @field_validator("map")
    @classmethod
    def _us_codes(cls, mapping: dict[str, str], info: Any) -> dict[str, str]:
        if info.data.get("mode") == "us":
            wrong = {k: v for k, v in mapping.items() if v not in ("TAX", "NON")}
            if wrong:
                raise ValueError(f"with mode 'us' every map value must be 'TAX' or 'NON', got {wrong}")
        return mapping


class ExportConfig(_Section):
    batch_size: int = Field(30, ge=1, le=30)
    use_batches: bool = True
    closed_period: Literal["skip", "fail"] = "skip"
    max_attempts: int = Field(5, ge=1)


class PipelineConfig(_Section):
    source: SourceConfig
    ledger: LedgerConfig
    companies: list[CompanyConfig] = Field(min_length=1)
    options: OptionsConfig = OptionsConfig()
    accounts: AccountsConfig = AccountsConfig()
    taxes: TaxesConfig = TaxesConfig()
    export: ExportConfig = ExportConfig()
    path: str = Field("<defaults>", exclude=True)

    @field_validator("companies")
    @classmethod
    def _unique_keys(cls, companies: list[CompanyConfig]) -> list[CompanyConfig]:
        keys = [c.key for c in companies]
        if len(keys) != len(set(keys)):
            raise ValueError(f"company keys must be unique, got {keys}")
        return companies

    def company(self, key: str | None = None) -> CompanyConfig:
        """The company with this key (the only one when there is one and no key is given)."""
        if key is None:
            return self.companies[0]
        for company in self.companies:
            if company.key == key:
                return company
        raise ConfigError(f"{self.path}: no company with key {key!r} (have {[c.key for c in self.companies]})")

    @cached_property
    def company_keys(self) -> list[str]:
        return [c.key for c in self.companies]


def _expand(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in variables:
                return variables[name]
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"environment variable {name} is not set (referenced as ${{{name}}})")

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, variables) for v in value]
    return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "map":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The option names of the section at ``loc`` (list positions skipped)."""
    model: Any = PipelineConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        model = inner[0] if inner and isinstance(inner[0], type) else annotation
    fields = getattr(model, "model_fields", {})
    return sorted(name for name in fields if name != "path")


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        return f"{key}: unknown option" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if error["type"] == "literal_error":
        return f"{key}: {error['input']!r} is not allowed; {error['msg'].lower()}"
    if error["type"] == "value_error":
        return f"{key}: {error['msg'].removeprefix('Value error, ')}"
    return f"{key}: {error['msg']} (got {error.get('input')!r})"


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Load the pipeline file (``path``, else ``$QBO_PIPELINE_CONFIG``, else the defaults)."""
    path = path or os.environ.get(CONFIG_ENV)
    data = _read_yaml(DEFAULTS_FILE)
    if path:
        user = _read_yaml(Path(path))
        unknown = set(user) - (set(PipelineConfig.model_fields) - {"path"})
        if unknown:
            allowed = ", ".join(sorted(set(PipelineConfig.model_fields) - {"path"}))
            raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}; allowed: {allowed}")
        data = _merge(data, user)
    if overrides:
        data = _merge(data, overrides)
    data = _expand(data, {"state_dir": str(state_dir())})
    try:
        return PipelineConfig(**data, path=str(path or DEFAULTS_FILE))
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{path or DEFAULTS_FILE}: {problems}") from exc
