"""Log records leave the process as one line each: no stack traces, no exception text.

An exception's text can carry what must never be written down (an upstream's error body may quote
the key it refused). What an operator needs to find the fault is its type and where it was raised.
"""

from __future__ import annotations

import logging
import os
import traceback


class OneLineErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
            where = f" at {os.path.basename(frame[0].filename)}:{frame[0].lineno}" if frame else ""
            record.msg = f"{record.msg} [{type(error).__name__}{where}]"
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        return True
