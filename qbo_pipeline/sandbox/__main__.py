"""``python -m qbo_pipeline.sandbox serve ...``"""

from qbo_pipeline.sandbox.cli import sandbox

sandbox(prog_name="python -m qbo_pipeline.sandbox")
