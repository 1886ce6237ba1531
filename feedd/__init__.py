"""feedd: a self-hosted feed ingestion daemon.

The pipeline, one module per stage, in the order an item meets them:
fetch -> digest (parse -> links, offline -> normalize, in a worker process)
-> links (followed over the network) -> dedupe -> schedule -> store.
``pipeline`` puts them together (its ``Pipeline`` docstring shows the whole
chain), ``daemon`` schedules it, ``cli`` drives it. ``store`` is the seam to
the database: the ``Storage`` protocol and one implementation per backend.
docs/architecture.md has the table of stages.
"""

__version__ = "0.1.0"
