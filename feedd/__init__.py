"""feedd: a self-hosted feed ingestion daemon.

The pipeline, one module per stage:
fetch -> parse -> normalize (with links) -> dedupe -> store, run by pipeline,
scheduled by daemon, driven by cli.
"""

__version__ = "0.1.0"
