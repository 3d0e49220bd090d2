"""The production profile: what must not reach residents, checked before the hub goes live.

`pingan check-config --production` refuses (exit 2) and `pingan serve` warns loudly at start
about each of these; every problem names the key and the fix (docs/DEPLOY.md):
the console SMS provider, a plain-http `http.public_url`, an MQTT connection in clear to
another machine, no `http.secret_key`, SQLite beyond SQLITE_MAX_RESIDENTS residents, and the
demo user or any user whose password is a shipped default; a voice provider that cannot place a
call (console, or without its secret, caller number or app id, or `voice_alert` template).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from hub.config import Config, env_name, key_lines
from hub.storage.db import make_engine
from hub.storage.models import Resident, User

#: One SQLite writer serialises ingestion, rules and dispatch; measured comfortable up to a few
#: thousand homes (docs/BENCHMARKS.md). Beyond this, PostgreSQL.
SQLITE_MAX_RESIDENTS = 2000
#: Names and passwords that ship with the product (the demo) or that installers type first.
DEFAULT_USERS = ("demo",)
DEFAULT_PASSWORDS = ("pingan-demo", "password", "admin", "12345678", "pingan123")


@dataclass(frozen=True)
class Refusal:
    key: str
    problem: str
    fix: str

    def line(self, where: str) -> str:
        return f"{where} {self.key}: {self.problem} — fix: {self.fix}"


def config_refusals(config: Config) -> list[Refusal]:
    """What the configuration alone shows."""
    refusals = []
    if config.sms.provider == "console":
        refusals.append(Refusal("sms.provider", "console only prints texts: nobody is told",
                                "set sms.provider to a real provider (aliyun, tencent or twilio) and its credentials"))
    if urlsplit(config.http.public_url).scheme != "https":
        refusals.append(Refusal("http.public_url", f"{config.http.public_url} is plain http: responder links and logins travel in clear",
                                "serve the board behind HTTPS (deploy/Caddyfile) and set an https:// public_url"))
    if config.mqtt.url and _in_clear_to_another_machine(config.mqtt.url):
        refusals.append(Refusal("mqtt.url", f"{config.mqtt.url} is MQTT without TLS to another machine",
                                "use mqtts:// with mqtt.tls.ca_file (deploy/mosquitto.conf has the TLS listener)"))
    if config.http.secret_key is None:
        refusals.append(Refusal("http.secret_key", "no key: `pingan serve` does not start without one (it signs sessions and responder links)",
                                f"set {env_name(('http', 'secret_key'))} or a file of that name in PINGAN_SECRETS_DIR"))
    if config.sms.provider == "twilio" and config.sms.twilio.auth_token is None:
        refusals.append(Refusal("sms.twilio.auth_token", "Twilio without its auth token cannot send",
                                f"set {env_name(('sms', 'twilio', 'auth_token'))}"))
    return refusals + voice_refusals(config)


def voice_refusals(config: Config) -> list[Refusal]:
    """A voice provider that could not place a call: no secret (its own or the SMS provider's of
    the same cloud), no caller number or app id, no approved `voice_alert` template; or console."""
    voice = config.voice
    if voice.provider == "console":
        return [Refusal("voice.provider", "console only logs calls: nobody's phone rings",
                        "set voice.provider to aliyun or tencent (or null: no calls)")]
    if voice.provider == "aliyun":
        section, own, shared = "aliyun", voice.aliyun.access_key_secret, config.sms.aliyun.access_key_secret
        secret_key, needed = "access_key_secret", {"called_show_number": voice.aliyun.called_show_number}
        templates = voice.aliyun.templates
    elif voice.provider == "tencent":
        section, own, shared = "tencent", voice.tencent.secret_key, config.sms.tencent.secret_key
        secret_key, needed = "secret_key", {"sdk_app_id": voice.tencent.sdk_app_id}
        templates = voice.tencent.templates
    else:
        return []
    refusals = []
    if own is None and shared is None:
        refusals.append(Refusal(f"voice.{section}.{secret_key}", f"voice calls through {section} without its secret cannot be placed",
                                f"set {env_name(('voice', section, secret_key))} (or {env_name(('sms', section, secret_key))})"))
    refusals += [Refusal(f"voice.{section}.{key}", f"voice.{section}.{key} is not set", f"set voice.{section}.{key}")
                 for key, value in needed.items() if not value]
    if not templates.get("voice_alert"):
        refusals.append(Refusal(f"voice.{section}.templates", "no approved voice_alert template: no call can be placed",
                                "file the voice_alert TTS template (docs/DISPATCH.md, Voice calls) and set its code"))
    return refusals


def database_refusals(config: Config, passwords: bool = True) -> tuple[list[Refusal], str | None]:
    """What the database shows (resident count, default users); a note when it cannot be read.
    `passwords`: also try every user's hash against the default passwords (argon2: ~0.1 s a try)."""
    engine = make_engine(config.database.url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if not {"residents", "users"} <= tables:
                return [], "database not migrated yet: users and resident count not checked"
            residents = conn.scalar(select(func.count()).select_from(Resident)) or 0
            users = conn.execute(select(User.name, User.password_hash)).all()
    except SQLAlchemyError as exc:
        return [], f"database not reachable ({type(exc).__name__}): users and resident count not checked"
    finally:
        engine.dispose()
    refusals = []
    if engine.dialect.name == "sqlite" and residents > SQLITE_MAX_RESIDENTS:
        refusals.append(Refusal("database.url", f"SQLite with {residents} residents (at most {SQLITE_MAX_RESIDENTS})",
                                "move to PostgreSQL (docs/DEPLOY.md) and set database.url to postgresql+psycopg://..."))
    for name, password_hash in users:
        if name in DEFAULT_USERS or (passwords and _has_default_password(password_hash)):
            refusals.append(Refusal("users", f"user {name!r} is a demo user or has a default password",
                                    f"pingan users remove {name} (or reset its password)"))
    return refusals, None


def production_report(config: Config, path: Path, passwords: bool = True) -> tuple[list[str], list[str]]:
    """(problems as `FILE:LINE key: problem — fix: ...`, notes). `passwords`: see `database_refusals`."""
    lines = _lines_of(path)
    refusals = config_refusals(config)
    db_refusals, note = database_refusals(config, passwords)

    def where(key: str) -> str:
        return f"{path}:{lines.get(tuple(key.split('.')), lines.get((key.split('.')[0],), 1))}"

    notes = [note] if note else []
    notes += [f"{where(key)} {key}: {text}" for key, text in config_notes(config)]
    return [r.line(where(r.key)) for r in refusals + db_refusals], notes


def config_notes(config: Config) -> list[tuple[str, str]]:
    """Warnings that do not stop the hub: (key, text)."""
    if config.sms.provider == "twilio":
        return [("sms.provider", "warning: Twilio sends residents' names and addresses abroad and carries no replies "
                 "from mainland numbers; a mainland community needs aliyun or tencent (docs/DISPATCH.md, data residency)")]
    return []


def _in_clear_to_another_machine(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "mqtts":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: another machine
        return True


def _has_default_password(password_hash: str) -> bool:
    hasher = PasswordHasher()
    for password in DEFAULT_PASSWORDS:
        try:
            if hasher.verify(password_hash, password):
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False


def _lines_of(path: Path) -> dict[tuple[str, ...], int]:
    try:
        # libyaml's composer when there (the same nodes and marks): `pingan serve` calls this after the hub
        # started, while a backlog drains; the pure-Python one took ~10 ms of CPU for the packaged config
        return key_lines(yaml.compose(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except (OSError, yaml.YAMLError):
        return {}
