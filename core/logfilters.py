"""Log records leave the process as one line each: no stack traces, no exception text.

An exception's text can carry what must never be written down (an upstream's error body may quote
the key it refused). What an operator needs to find the fault is its type and where it was raised.

`LOG_FORMAT=json` writes each line as one JSON object (`JsonLines`), for log collectors.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import traceback


class OneLineErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
            where = f" at {os.path.basename(frame[0].filename)}:{frame[0].lineno}" if frame else ""
            record.error = f"{type(error).__name__}{where}"  # the exception, as far as it may be told
            record.msg = f"{record.msg} [{record.error}]"
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: timestamp (UTC, ISO 8601), level, logger, message, request_id, and
    `exception` (its type and where it was raised, as OneLineErrors tells it) when there was one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        error = getattr(record, "error", None)
        if error:
            line["exception"] = error
        return json.dumps(line, ensure_ascii=False)
