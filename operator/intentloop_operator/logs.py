"""structlog JSON logs for the operator, with kopf's own stdlib logging routed through them.

Every line is one JSON object; handlers bind kind/namespace/name/generation (and device,
transaction) once, so a person can follow one intent or one transaction across lines.
"""

from __future__ import annotations

import contextlib
import logging
import sys

import structlog

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure(level: int = logging.INFO) -> None:
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kopf is chatty at DEBUG; paramiko and grpc even more so.
    for noisy in ("paramiko", "ncclient", "kubernetes", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get(name: str = "intentloop") -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


def bound(**fields: object) -> contextlib.AbstractContextManager[object]:
    """Bind `fields` (kind, namespace, name, ...) to every log line inside the block."""
    return structlog.contextvars.bound_contextvars(**fields)
