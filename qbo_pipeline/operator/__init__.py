"""Operator tooling: the ``qbo-pipeline`` commands a data engineer uses around the pipeline.

One module per command group (connect, doctor, status, failed, records); ``common`` holds
the options every command shares (``--company``, ``--config``, ``--json``), the exit codes
and the translation of pipeline errors into them.
"""
