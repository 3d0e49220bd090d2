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
import time
from collections.abc import Callable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# E.164: "+" and 9 to 15 digits; a bare Chinese mobile number: 11 digits starting 13-19.
_E164 = re.compile(r"(?<![\w+])\+(\d{1,7})(\d{4})(\d{4})(?!\d)")
_CN_MOBILE = re.compile(r"(?<![\w+])(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
# A responder link's token (`/r/<alert>_<digits>_<expiry>.<signature>`) acts for its responder
# until it expires: a credential. Logs keep only that a link was there.
_RESPONDER_LINK = re.compile(r"/r/[\w.\-]+")
# Its short form in an SMS (`/s/Ab3xK9`, hub/dispatch/links.py) leads to it while it is valid.
_SHORT_LINK = re.compile(r"/s/[A-Za-z0-9]+")
# The Aliyun and Tencent push webhooks carry `sms.webhook_token` in their path (access logs).
#: a group robot's webhook URL holds its key (WeCom `key`, DingTalk `access_token`) and DingTalk's `sign`
_ROBOT_KEY = re.compile(r"([?&](?:key|access_token|sign)=)[^&\s\"'>]+")
_PUSH_TOKEN = re.compile(r"(/webhooks/(?:aliyun|tencent)/sms-[a-z]+/)[^\s/?\"']+")


def mask_phones(text: str) -> str:
    """Replace the four digits before the last four of every phone number with `****`."""
    text = _E164.sub(lambda m: f"+{m.group(1)}****{m.group(3)}", text)
    return _CN_MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def mask_secrets(text: str) -> str:
    """Phone numbers masked (see `mask_phones`); responder-link tokens, long or short, the
    push webhooks' path token and group robots' keys and signatures replaced by `***`."""
    text = _PUSH_TOKEN.sub(r"\1***", _SHORT_LINK.sub("/s/***", _RESPONDER_LINK.sub("/r/***", text)))
    text = _ROBOT_KEY.sub(r"\1***", text)
    return mask_phones(text)


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
CHATTY_LIBRARIES = ("amqtt", "transitions", "gmqtt", "alembic", "apscheduler", "httpx", "httpcore")


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


class LogThrottle:
    """At most one warning per key every `every_s` seconds; the next line says how many were held
    back. For what strangers can trigger at will (refused webhooks, a flooding device): a log
    line per request would let them fill the disk."""

    def __init__(self, logger: logging.Logger, every_s: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic, max_keys: int = 1000) -> None:
        self.logger = logger
        self.every_s = every_s
        self.monotonic = monotonic
        self.max_keys = max_keys
        self._last: dict[str, tuple[float, int]] = {}  # key -> (logged at, held back since)

    def warning(self, key: str, msg: str, *args: object) -> bool:
        """Log unless `key` was logged less than `every_s` ago; returns whether it logged."""
        now = self.monotonic()
        logged_at, held = self._last.get(key, (float("-inf"), 0))
        if now - logged_at < self.every_s:
            self._last[key] = (logged_at, held + 1)
            return False
        suffix = f" (+{held} like it in the last {self.every_s:.0f}s)" if held else ""
        self.logger.warning(msg + suffix, *args)
        self._last.pop(key, None)
        self._last[key] = (now, 0)
        while len(self._last) > self.max_keys:
            self._last.pop(next(iter(self._last)))
        return True
