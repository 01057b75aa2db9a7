"""Where a run's Dagster log goes: the console (quiet by default on the command line) and a file.

Every run's full log (every event at DEBUG) is appended to a file under the state folder, so
the console can stay quiet (progress and summary) while nothing is lost; the command line
prints the path and brings the detail back to the console with ``-v``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg

from qbo_pipeline.config import state_dir

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def default_log_path() -> Path:
    return state_dir() / "logs" / "dagster-runs.log"


@dg.logger(
    config_schema={
        "path": dg.Field(str, is_required=False, description="Log file (default: <state>/logs/dagster-runs.log)."),
        "log_level": dg.Field(str, default_value="DEBUG"),
    },
    description="Appends every event of the run to a log file.",
)
def file_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    path = Path(init_context.logger_config.get("path") or default_log_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"qbo_pipeline.runlog.{path}")
    logger.setLevel(init_context.logger_config["log_level"].upper())
    logger.propagate = False
    if not logger.handlers:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    return logger
