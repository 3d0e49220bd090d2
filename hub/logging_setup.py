"""Logging for `pingan serve` and `pingan demo`: one format, phone numbers and responder links
masked in every record.

Residents' and responders' phone numbers are personal information (PIPL): logs are copied,
shipped and kept far longer than the outbox, so no log line carries a full number.
`PhoneMaskFilter` rewrites each record's message (format string and arguments, merged) and
its formatted traceback: `+8613800000001` → `+86138****0001`, a bare mainland mobile number
`13800000001` → `138****0001`; a responder link `…/r/<token>` → `…/r/***` (the token acts
for its responder until it expires). It sits on the root handlers, so it sees the records of every
logger that propagates (the hub's, uvicorn's, the twilio SDK's).

The console SMS provider's own stdout line (`SMS to +86...: text`) is not a log record: it
is the demo's stand-in for the SMS itself and keeps the number (see docs/SECURITY.md).
"""

from __future__ import annotations

import logging
import re

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# E.164: "+" and 9 to 15 digits; a bare Chinese mobile number: 11 digits starting 13-19.
_E164 = re.compile(r"(?<![\w+])\+(\d{1,7})(\d{4})(\d{4})(?!\d)")
_CN_MOBILE = re.compile(r"(?<![\w+])(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
# A responder link's token (`/r/<alert>_<digits>_<expiry>.<signature>`) acts for its responder
# until it expires: a credential. Logs keep only that a link was there.
_RESPONDER_LINK = re.compile(r"/r/[\w.\-]+")


def mask_phones(text: str) -> str:
    """Replace the four digits before the last four of every phone number with `****`."""
    text = _E164.sub(lambda m: f"+{m.group(1)}****{m.group(3)}", text)
    return _CN_MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def mask_secrets(text: str) -> str:
    """Phone numbers masked (see `mask_phones`) and responder-link tokens replaced by `***`."""
    return mask_phones(_RESPONDER_LINK.sub("/r/***", text))


class PhoneMaskFilter(logging.Filter):
    """Masks phone numbers and responder links in a record's message and traceback; never
    drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the record, let the formatter report it
            return True
        masked = mask_secrets(message)
        if masked != message:  # leave untouched records as they are (formatters may read args)
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True


#: Libraries whose INFO lines are their own state machines (connection made, packet sent,
#: migration plugin loaded, job added): an operator needs their warnings, not their chatter.
CHATTY_LIBRARIES = ("amqtt", "transitions", "gmqtt", "alembic", "apscheduler")


def configure_logging(level: int = logging.INFO) -> None:
    """basicConfig with the hub's format, the phone mask on every root handler, quiet libraries."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    install_phone_mask(logging.getLogger())
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def install_phone_mask(logger: logging.Logger) -> None:
    for handler in logger.handlers:
        if not any(isinstance(f, PhoneMaskFilter) for f in handler.filters):
            handler.addFilter(PhoneMaskFilter())
