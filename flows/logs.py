"""The library's `swarmlab` loggers in the Prefect run logs: what PREFECT_LOGGING_EXTRA_LOGGERS does, but
only inside a flow or task run (outside one, e.g. the library's own tests, nothing is sent and nothing warns)."""

from __future__ import annotations

import logging

from prefect.context import get_run_context
from prefect.exceptions import MissingContextError
from prefect.logging.handlers import APILogHandler

LIBRARY = "swarmlab"


class RunLogHandler(APILogHandler):
    """Ships a record to the Prefect API when it is logged inside a flow or task run."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            get_run_context()
        except MissingContextError:
            return
        super().emit(record)


def route_library_logs(name: str = LIBRARY) -> None:
    """Send `name`'s INFO and above to the current run's logs (idempotent); they still reach the console."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, RunLogHandler) for h in logger.handlers):
        logger.addHandler(RunLogHandler(level=logging.INFO))
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
