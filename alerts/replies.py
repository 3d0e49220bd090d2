"""SMS replies from responders: `1`, `2`, `3` or `9`, optionally with the alert code.

Owns the parsing only (pure): what a reply text asks for. Finding the alert it means and
applying it is the hub's business (hub/dispatch/replies.py). Phones add noise: full-width
digits (１), punctuation, the code before or after the digit, lower case, extra words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from alerts.codes import CODE_ALPHABET, CODE_LENGTH


class ReplyCommand(StrEnum):
    ACKNOWLEDGE = "1"
    BACKUP = "2"
    ON_SITE = "3"
    RESOLVE_OK = "9"


@dataclass(frozen=True, slots=True)
class ParsedReply:
    command: ReplyCommand | None  # None: not understood
    code: str | None  # the alert code, upper case, when the reply named one
    reason: str  # why it parsed this way: "command", "command_with_code", "no_command", "ambiguous"


_CODE_RE = re.compile(rf"(?<![0-9A-Z])([{CODE_ALPHABET}]{{{CODE_LENGTH}}})(?![0-9A-Z])")
_COMMAND_RE = re.compile(r"(?<![0-9A-Z])([1239])(?![0-9A-Z])")
# "1A7K2" / "A7K21": digit and code typed without a space.
_GLUED_RE = re.compile(
    rf"^\W*(?:([1239])([{CODE_ALPHABET}]{{{CODE_LENGTH}}})|([{CODE_ALPHABET}]{{{CODE_LENGTH}}})([1239]))\W*$"
)


def parse_reply(text: str) -> ParsedReply:
    """`"1"` → acknowledge; `"1 A7K2"`, `"a7k2 1"`, `"１，A7K2"` → acknowledge alert A7K2."""
    normalized = unicodedata.normalize("NFKC", text).upper()
    glued = _GLUED_RE.match(normalized)
    if glued:
        return ParsedReply(
            ReplyCommand(glued.group(1) or glued.group(4)), glued.group(2) or glued.group(3), "command_with_code"
        )
    code_match = _CODE_RE.search(normalized)
    code = code_match.group(1) if code_match else None
    rest = normalized if code_match is None else normalized[: code_match.start()] + " " + normalized[code_match.end() :]
    commands = {m.group(1) for m in _COMMAND_RE.finditer(rest)}
    if not commands:
        return ParsedReply(None, code, "no_command")
    if len(commands) > 1:
        return ParsedReply(None, code, "ambiguous")
    return ParsedReply(ReplyCommand(commands.pop()), code, "command_with_code" if code else "command")
