"""Phone numbers are masked in every log record of serve and demo; the console SMS line keeps it."""

from __future__ import annotations

import logging
import subprocess
import sys
from io import StringIO

from hub.logging_setup import PhoneMaskFilter, mask_phones


def test_mask_phones_keeps_prefix_and_last_four() -> None:
    assert mask_phones("to=+8613800000001 sid=CM1") == "to=+86138****0001 sid=CM1"
    assert mask_phones("+8613800000001,+8613900000002") == "+86138****0001,+86139****0002"
    assert mask_phones("from 13800000001.") == "from 138****0001."
    assert mask_phones("US +15551234567") == "US +155****4567"
    # Not phone numbers: timestamps, ids, sids, short numbers.
    for text in ("ts=1764124800.123", "seq=4294967295", "sid=SM13800000001abc", "code A7K2 +8612", "id=load-00001"):
        assert mask_phones(text) == text


def test_filter_masks_message_args_and_traceback() -> None:
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PhoneMaskFilter())
    logger = logging.getLogger("test.privacy.mask")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.warning("sms.unknown_number from=%s sid=%s: ignored", "+8613900000002", "SM1")
        logger.warning("literal %s", {"phone": "+8613800000001"})
        logger.info("no number here %d", 5)
        try:
            raise ValueError("invalid number +8613800000003")
        except ValueError:
            logger.exception("send failed to=%s", "+8613800000003")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "from=+86139****0002 sid=SM1" in out
    assert "'phone': '+86138****0001'" in out
    assert "no number here 5" in out
    assert "send failed to=+86138****0003" in out and "ValueError: invalid number +86138****0003" in out
    for full in ("+8613900000002", "+8613800000001", "+8613800000003"):
        assert full not in out


SERVE_LIKE = """
import logging
from hub.logging_setup import configure_logging
from hub.dispatch.providers.console import ConsoleProvider
configure_logging()
ConsoleProvider().send("+8613800000001", "【平安】李奶奶SOS。回复1前往。码A7K2", 300, None)
logging.getLogger("pingan.dispatch").info("dispatch.digest phone=%s alerts=%d", "+8613800000002", 3)
logging.getLogger("twilio.http_client").info("-- BEGIN Twilio API Request --\\nData: To=+8613900000001")
"""


def test_serve_logging_masks_every_logger_and_the_console_sms_keeps_its_number() -> None:
    """configure_logging() is what `pingan serve` and `pingan demo` call (a fresh process: the
    root logger is untouched by pytest there)."""
    run = subprocess.run([sys.executable, "-c", SERVE_LIKE], capture_output=True, text=True, timeout=60, check=True)
    log, stdout = run.stderr, run.stdout
    assert "sms.console" in log and "to=+86138****0001" in log
    assert "phone=+86138****0002" in log and "To=+86139****0001" in log
    for full in ("+8613800000001", "+8613800000002", "+8613900000001"):
        assert full not in log
    # The console provider's print is the demo's stand-in for the SMS itself: it shows the recipient.
    assert stdout.strip() == "SMS to +8613800000001: 【平安】李奶奶SOS。回复1前往。码A7K2"
