"""Passing frames between stages of a run that covers a range of days.

Dagster's filesystem IO manager stores one file per partition and refuses an output that
spans several partitions. A run over a range of days produces exactly that, so this IO
manager stores one pickle per asset and partition range (``2025-01-01__2025-03-31.pkl``)
and the next stage of the same run reads it back for the same range.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import dagster as dg


class RangePickleIOManager(dg.ConfigurableIOManager):
    """Pickles stage outputs under ``base_dir``; one file per asset and partition range."""

    base_dir: str | None = None

    def _root(self) -> Path:
        if self.base_dir:
            return Path(self.base_dir)
        home = os.environ.get("DAGSTER_HOME")
        return Path(home) / "storage" if home else Path("var") / "storage"

    def _path(self, asset_key: dg.AssetKey, has_partitions: bool, key_range: Any) -> Path:
        name = f"{key_range.start}__{key_range.end}.pkl" if has_partitions else "all.pkl"
        return self._root().joinpath(*asset_key.path, name)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        path = self._path(
            context.asset_key, context.has_asset_partitions,
            context.asset_partition_key_range if context.has_asset_partitions else None,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        context.add_output_metadata({"stored_at": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        has_partitions = context.has_asset_partitions
        path = self._path(context.asset_key, has_partitions, context.asset_partition_key_range if has_partitions else None)
        if not path.exists():
            span = (
                f"days {context.asset_partition_key_range.start}..{context.asset_partition_key_range.end}"
                if has_partitions else "this asset"
            )
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has not been materialized for {span} "
                f"(expected {path}); materialize it together with the assets that read it"
            )
        with open(path, "rb") as handle:
            return pickle.load(handle)
