"""Configuration: pydantic models of config.yaml, environment overrides, errors with file:line.

Load order (last wins): the file (--config, $PINGAN_CONFIG, ./config.yaml, or the packaged
hub/default_config.yaml) < `PINGAN_*` environment variables (keys joined by `__`,
e.g. `PINGAN_MQTT__URL`) < secrets files in `PINGAN_SECRETS_DIR` (one file per variable name).
Secrets (`mqtt.password`, `sms.twilio.auth_token`, `http.secret_key`) are refused in the YAML file.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.config import (
    AlertsConfig,
    EscalationConfig,
    RulesConfig,
    Strict,
    VolunteersConfig,
)
from alerts.durations import Duration
from alerts.escalation import voice_too_late
from alerts.templates import CATALOGUE, VOICE_CATALOGUE

DEFAULT_CONFIG = Path("config.yaml")
#: The working default configuration shipped inside the package: `pingan demo` runs from any folder.
PACKAGED_CONFIG = Path(__file__).with_name("default_config.yaml")
ENV_PREFIX = "PINGAN_"
SECRET_PATHS = (
    ("mqtt", "password"),
    ("sms", "twilio", "auth_token"),
    ("sms", "aliyun", "access_key_secret"),
    ("sms", "tencent", "secret_key"),
    ("sms", "webhook_token"),
    ("voice", "aliyun", "access_key_secret"),
    ("voice", "tencent", "secret_key"),
    ("http", "secret_key"),
    ("http", "metrics_token"),
)


class TlsConfig(Strict):
    ca_file: Path | None = Field(None, description="CA certificate that signed the broker's certificate")
    cert_file: Path | None = Field(None, description="client certificate, for mutual TLS")
    key_file: Path | None = Field(None, description="client private key, for mutual TLS")


class MqttConfig(Strict):
    url: str | None = Field("mqtt://127.0.0.1:1883", description="broker URL, mqtt:// or mqtts://; null in the demo starts an embedded broker")
    username: str | None = Field(None, description="hub's broker user name")
    password: SecretStr | None = Field(None, description="hub's broker password (environment or secrets file only)")
    topic_root: str = Field("pingan/v1", description="topic root of protocol v1")
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version; 3.1.1 for brokers without MQTT 5 (the demo's embedded broker)")
    client_id: str = Field("pingan-hub", description="fixed client id: the broker keeps this session while the hub is down")
    shared_group: str | None = Field(None, description="join $share/<group>/... so several hubs split the stream")
    session_expiry: Duration = Field(timedelta(days=7), description="how long the broker keeps the hub's session and queued messages")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive in seconds")
    max_payload_bytes: int = Field(16 * 1024, ge=256, le=1 << 20, description="larger payloads are quarantined unparsed")
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS to the broker")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must start with mqtt:// or mqtts://")
        return v


class DatabaseConfig(Strict):
    url: str = Field("sqlite:///pingan.db", description="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://...")


class TwilioConfig(Strict):
    account_sid: str | None = Field(None, description="Twilio account SID")
    auth_token: SecretStr | None = Field(None, description="Twilio auth token (environment or secrets file only)")
    from_number: str | None = Field(None, description="sender number in E.164")
    api_base_url: str | None = Field(None, description="Twilio-compatible API base URL (tests point it at a local server)")


def _codes_for(catalogue: Mapping[str, object], what: str) -> Callable[[dict[str, str | None]], dict[str, str | None]]:
    """A validator: keys are ids of `catalogue` (alerts/templates.py), or `<id>_en` for English versions."""

    def check(v: dict[str, str | None]) -> dict[str, str | None]:
        unknown = [k for k in v if k.removesuffix("_en") not in catalogue]
        if unknown:
            raise ValueError(f"unknown {what} ids {', '.join(unknown)}; the catalogue has {', '.join(catalogue)}")
        return v

    return check


_template_codes = _codes_for(CATALOGUE, "template")
_voice_template_codes = _codes_for(VOICE_CATALOGUE, "voice template")


def _no_templates() -> dict[str, str | None]:
    return dict.fromkeys(CATALOGUE)


class AliyunConfig(Strict):
    access_key_id: str | None = Field(None, description="Aliyun AccessKey ID")
    access_key_secret: SecretStr | None = Field(None, description="Aliyun AccessKey secret (environment or secrets file only)")
    sign_name: str | None = Field(None, description="approved SMS sign name, e.g. 平安")
    endpoint: str | None = Field(None, description="dysmsapi URL, https://dysmsapi.aliyuncs.com when null; its scheme sets the protocol (tests: a local server)")
    templates: dict[str, str | None] = Field(default_factory=_no_templates, description="approved template code per template id (docs/DISPATCH.md); <id>_en for an English version")

    _check_templates = field_validator("templates")(_template_codes)


class TencentConfig(Strict):
    secret_id: str | None = Field(None, description="Tencent Cloud SecretId")
    secret_key: SecretStr | None = Field(None, description="Tencent Cloud SecretKey (environment or secrets file only)")
    sdk_app_id: str | None = Field(None, description="SMS SdkAppId")
    sign_name: str | None = Field(None, description="approved SMS sign name")
    region: str = Field("ap-guangzhou", description="API region")
    endpoint: str | None = Field(None, description="SMS API URL, https://sms.tencentcloudapi.com when null; its scheme sets the protocol (tests: a local server)")
    templates: dict[str, str | None] = Field(default_factory=_no_templates, description="approved TemplateId per template id (docs/DISPATCH.md); <id>_en for an English version")

    _check_templates = field_validator("templates")(_template_codes)


class SmsConfig(Strict):
    provider: Literal["console", "twilio", "aliyun", "tencent"] = Field(
        "console", description="console prints and stores; twilio, aliyun and tencent send"
    )
    twilio: TwilioConfig = Field(default_factory=TwilioConfig)
    aliyun: AliyunConfig = Field(default_factory=AliyunConfig)
    tencent: TencentConfig = Field(default_factory=TencentConfig)
    webhook_token: SecretStr | None = Field(
        None, description="secret path token of the Aliyun and Tencent push webhooks (environment or secrets file only)"
    )
    default_language: Literal["zh", "en"] = Field("zh", description="SMS language unless the recipient chose another")
    max_attempts: int = Field(
        20, ge=1, le=20,
        description="send attempts for recoverable errors, spread over the text's validity, before it fails; "
        "the texts of an alert nobody acknowledged yet are retried until the provider takes them",
    )


def _no_voice_templates() -> dict[str, str | None]:
    return dict.fromkeys(VOICE_CATALOGUE)


class AliyunVoiceConfig(Strict):
    access_key_id: str | None = Field(None, description="Aliyun AccessKey ID; null: the one of sms.aliyun")
    access_key_secret: SecretStr | None = Field(
        None, description="Aliyun AccessKey secret (environment or secrets file only); null: the one of sms.aliyun"
    )
    called_show_number: str | None = Field(None, description="the number shown to the callee: one bought in the Dyvms console (real number)")
    endpoint: str | None = Field(None, description="Dyvms API URL, https://dyvmsapi.aliyuncs.com when null; its scheme sets the protocol (tests: a local server)")
    templates: dict[str, str | None] = Field(
        default_factory=_no_voice_templates,
        description="approved TTS template code per voice template id (docs/DISPATCH.md); with voice_acknowledged set, calls are interactive (IvrCall, press 1)",
    )

    _check_templates = field_validator("templates")(_voice_template_codes)

    @field_validator("called_show_number", mode="before")
    @classmethod
    def _quoted(cls, v: Any) -> Any:
        if isinstance(v, int):  # YAML reads 057188880000 as an (octal) number: the digits are lost
            raise ValueError("write the number in quotes, e.g. '057188880000'")
        return v


class TencentVoiceConfig(Strict):
    secret_id: str | None = Field(None, description="Tencent Cloud SecretId; null: the one of sms.tencent")
    secret_key: SecretStr | None = Field(
        None, description="Tencent Cloud SecretKey (environment or secrets file only); null: the one of sms.tencent"
    )
    sdk_app_id: str | None = Field(None, description="VoiceSdkAppid of the VMS console's application")
    region: str = Field("ap-guangzhou", description="API region")
    endpoint: str | None = Field(None, description="VMS API URL, https://vms.tencentcloudapi.com when null; its scheme sets the protocol (tests: a local server)")
    templates: dict[str, str | None] = Field(
        default_factory=_no_voice_templates, description="approved TemplateId per voice template id (docs/DISPATCH.md)"
    )

    _check_templates = field_validator("templates")(_voice_template_codes)

    @field_validator("sdk_app_id", mode="before")
    @classmethod
    def _digits(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v  # an app id is digits: 1400006666 unquoted is fine


class VoiceConfig(Strict):
    provider: Literal["console", "aliyun", "tencent"] | None = Field(
        None, description="the TTS call fallback (steps with the voice channel); null: no calls (the voice channel is left out), console: into the log"
    )
    after: Duration = Field(timedelta(minutes=3), description="a step with the voice channel calls its people this long after its texts, unless acknowledged (a step's voice_after overrides)")
    play_times: int = Field(2, ge=1, le=3, description="how often the message is said in one call (both providers allow 1 to 3)")
    aliyun: AliyunVoiceConfig = Field(default_factory=AliyunVoiceConfig)
    tencent: TencentVoiceConfig = Field(default_factory=TencentVoiceConfig)


class HttpConfig(Strict):
    host: str = Field("127.0.0.1", description="address the board and API bind to")
    port: int = Field(8000, ge=1, le=65535)
    public_url: str = Field("http://127.0.0.1:8000", description="URL responders and Twilio reach the hub at; signatures are checked against it")
    secret_key: SecretStr | None = Field(
        None, description="key for session cookies and signed responder links (environment or secrets file only); "
        "`pingan serve` refuses to start without it, `pingan demo` makes one in memory",
    )
    session_idle: Duration = Field(timedelta(hours=2), description="a board session unused this long ends (an open board's live stream counts as use)")
    session_lifetime: Duration = Field(timedelta(hours=12), description="a board session ends this long after login, used or not")
    live_recheck_s: float = Field(5.0, gt=0, le=60, description="how often an open /live stream re-checks its session")
    login_max_failures: int = Field(5, ge=1, le=1000, description="failed logins per account and client address in login_window before that pair waits")
    login_address_max_failures: int = Field(20, ge=1, le=10000, description="failed logins per client address, any account, in login_window before the address waits")
    login_window: Duration = Field(timedelta(minutes=15), description="the login throttle's window")
    metrics_token: SecretStr | None = Field(None, description="bearer token that /metrics needs on the public port (environment or secrets file only)")
    metrics_host: str = Field("127.0.0.1", description="address of the separate /metrics listener (with metrics_port)")
    metrics_port: int | None = Field(None, ge=1, le=65535, description="serve /metrics without a token on this separate port instead of the public one")
    api_docs: Literal["login", "public"] = Field("login", description="/openapi.json and /docs: for logged-in users and API tokens, or public")


class MapConfig(Strict):
    """The board map's base layer (docs/WEB.md "Map"). Without one (`none`) homes, zones and
    trails are drawn on a blank background: it works offline."""

    base: Literal["none", "osm", "tianditu", "amap", "custom"] = Field(
        "none", description="none (offline), osm (OpenStreetMap), tianditu (天地图; needs tianditu_key), "
        "amap (AutoNavi/高德, GCJ-02: points are converted for display), or custom (tile_url and crs)",
    )
    tianditu_key: str | None = Field(None, description="天地图 browser key (tk); it appears in the page's tile URLs")
    tile_url: str | None = Field(None, description="custom: a Leaflet URL template such as https://{s}.tile.example/{z}/{x}/{y}.png")
    crs: Literal["wgs84", "gcj02"] = Field("wgs84", description="custom: the coordinates of the custom tiles")
    attribution: str = Field("", description="custom: the tiles' attribution")

    @model_validator(mode="after")
    def _complete(self) -> MapConfig:
        if self.base == "tianditu" and not self.tianditu_key:
            raise ValueError("tianditu_key: 天地图 needs a key (map.tianditu_key)")
        if self.base == "custom" and not (self.tile_url and self.tile_url.startswith(("https://", "http://"))):
            raise ValueError("tile_url: a custom base layer needs an http(s) tile URL template (map.tile_url)")
        return self


class RetentionConfig(Strict):
    gps_retention_days: int = Field(90, ge=1, description="location history older than this is purged")
    quarantine_days: int = Field(30, ge=1, description="rejected device messages are deleted after this")
    events_days: int = Field(365, ge=1, description="stored device events (other than GPS) are deleted after this")
    notifications_days: int = Field(
        180, ge=1, description="SMS bodies, numbers and recipient names are cleared after this (the row stays for the statistics)"
    )
    audit_days: int = Field(
        1095, ge=1, description="audit records, and the ids of inbound SMS (a reply acts once), are deleted after this"
    )


class IngestConfig(Strict):
    batch_size: int = Field(1000, ge=1, le=20000, description="messages per database transaction at most")
    queue_size: int = Field(20000, ge=100, description="bounded queue between network and database (backpressure)")
    batch_wait_ms: int = Field(20, ge=0, le=5000, description="how long a batch may wait to fill")
    device_burst: int = Field(2000, ge=10, description="messages one device may send at once before its rate applies (a day's backlog fits)")
    device_rate_per_s: float = Field(
        10.0, gt=0, description="messages a second one device may send sustained; beyond its budget they are dropped and counted"
    )
    critical_lane: bool = Field(
        True,
        description="a second persistent broker session (client id `<mqtt.client_id>-critical`) on the event channel only, "
        "drained first: an SOS, fall, smoke or gas alarm is decided before the backlog of ordinary messages "
        "(docs/INGESTION.md, critical first); one hub only (ignored with scale.partitions)",
    )


class ScaleConfig(Strict):
    partitions: int | None = Field(
        None, ge=1, le=4096,
        description="split the rules into this many partitions by resident, each run by one hub at a time "
        "(several hubs on PostgreSQL); null: one engine, decided in the ingestion transaction. Fixed per deployment",
    )
    lease: Duration = Field(timedelta(seconds=10), description="how long a hub owns a partition without renewing it; a dead hub's partitions move after this")
    poll_ms: int = Field(200, ge=10, le=10000, description="how often a hub looks for events other hubs stored for its partitions")
    settle_ms: int = Field(
        1000, ge=0, le=60000,
        description="events younger than this wait before the rules take them, so a device's messages that reached "
        "different hubs are ruled in device-time order (an SOS cancel never before its SOS)",
    )


def _robot_url(v: str) -> str:
    if not v.startswith(("https://", "http://")):
        raise ValueError("must be the robot's webhook URL (https://...)")
    return v


class DingTalkRobot(Strict):
    url: str = Field(description="the custom robot's webhook URL (https://oapi.dingtalk.com/robot/send?access_token=...)")
    secret: SecretStr | None = Field(None, description="the robot's signing secret (SEC...): timestamp + sign on every post")

    _check_url = field_validator("url")(_robot_url)


class GroupConfig(Strict):
    """One grid's staff group: a WeCom group robot, a DingTalk custom robot, or both."""

    wecom: str | None = Field(None, description="WeCom group robot webhook URL (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...)")
    dingtalk: DingTalkRobot | None = Field(None, description="DingTalk custom robot")
    language: Literal["zh", "en"] = Field("zh", description="language of the cards")

    @field_validator("wecom")
    @classmethod
    def _wecom(cls, v: str | None) -> str | None:
        return None if v is None else _robot_url(v)

    @model_validator(mode="after")
    def _some_robot(self) -> GroupConfig:
        if self.wecom is None and self.dingtalk is None:
            raise ValueError("name a wecom or a dingtalk robot")
        return self


class Config(Strict):
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    sms: SmsConfig = Field(default_factory=SmsConfig)
    voice: VoiceConfig = Field(default_factory=VoiceConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    map: MapConfig = Field(default_factory=MapConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    escalation: EscalationConfig
    groups: dict[str, GroupConfig] = Field(default_factory=dict, description="per grid id: its staff group's robots")
    volunteers: VolunteersConfig = Field(default_factory=VolunteersConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    scale: ScaleConfig = Field(default_factory=ScaleConfig)

    @model_validator(mode="after")
    def _voice_before_next_step(self) -> Config:
        """A call due after its step's wait would ring once the next step's people were told."""
        if self.voice.provider is None:
            return self
        for severity in ("critical", "high", "low"):
            for index, step in enumerate(getattr(self.escalation, severity)):
                if voice_too_late(step, self.voice.after):
                    raise ValueError(
                        f"escalation.{severity}.{index}: the voice call (voice.after or voice_after) must come "
                        f"before the step's wait is over"
                    )
        return self


class ConfigError(Exception):
    """One or more problems, each as `FILE:LINE key.path: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def config_path(explicit: str | Path | None = None) -> Path:
    """--config, else $PINGAN_CONFIG, else ./config.yaml when present, else the packaged default."""
    chosen = explicit or os.environ.get("PINGAN_CONFIG")
    if chosen:
        return Path(chosen)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else PACKAGED_CONFIG


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load, override from the environment, and validate; raises ConfigError."""
    path = config_path(path)
    environ = dict(os.environ if environ is None else environ)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError([f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: the file must be a mapping of sections"])
    twice: list[Twice] = []
    lines = key_lines(node, twice=twice)
    if twice:  # YAML keeps the last silently: a setting edited in one place and still set in another
        raise ConfigError([f"{path}:{t.line} {'.'.join(t.keys)}: {t.message}" for t in twice])
    problems = [
        f"{path}:{lines.get(p, 1)} {'.'.join(p)}: secrets come only from the environment or a secrets file"
        f" (set {env_name(p)})"
        for p in SECRET_PATHS
        if _get(data, p) is not None
    ]
    if problems:
        raise ConfigError(problems)
    overrides = env_overrides(environ)
    for keys, value in overrides.items():
        _set(data, keys, value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(err, path, lines, overrides) for err in exc.errors()]) from None


def env_name(keys: tuple[str, ...]) -> str:
    return ENV_PREFIX + "__".join(k.upper() for k in keys)


def env_overrides(environ: dict[str, str]) -> dict[tuple[str, ...], Any]:
    """`PINGAN_A__B=v` → {("a", "b"): v}, values read as YAML scalars; plus secrets files."""
    found: dict[tuple[str, ...], Any] = {}
    for name, value in environ.items():
        keys = tuple(k.lower() for k in name[len(ENV_PREFIX) :].split("__"))
        # Only names whose first key is a section, so PINGAN_CONFIG and PINGAN_SECRETS_DIR stay out.
        if name.startswith(ENV_PREFIX) and keys[0] in Config.model_fields:
            found[keys] = yaml.safe_load(value) if value else value
    secrets_dir = environ.get("PINGAN_SECRETS_DIR")
    if secrets_dir:
        for keys in SECRET_PATHS:
            secret = Path(secrets_dir) / env_name(keys)
            if secret.is_file():
                found[keys] = secret.read_text(encoding="utf-8").strip()
    return found


class Twice(NamedTuple):
    """A key given twice in one YAML mapping: where the second is, and why that is an error."""

    line: int
    keys: tuple[str, ...]
    message: str


def key_lines(node: yaml.Node | None, prefix: tuple[str, ...] = (), twice: list[Twice] | None = None) -> dict[tuple[str, ...], int]:
    """Map each key path of a YAML document to its 1-based line; each key given twice in one
    mapping goes to `twice`."""
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            line = key.start_mark.line + 1
            if path in lines and twice is not None:
                twice.append(Twice(line, path, f"given twice (first on line {lines[path]}): YAML would keep only this one"))
            lines[path] = line
            lines.update(key_lines(value, path, twice))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = (*prefix, str(index))
            lines[path] = item.start_mark.line + 1
            lines.update(key_lines(item, path, twice))
    return lines


def _describe(err: Any, path: Path, lines: dict[tuple[str, ...], int], overrides: dict[tuple[str, ...], Any]) -> str:
    loc = tuple(str(p) for p in err["loc"])
    dotted = ".".join(loc)
    if loc in overrides:
        return f"{env_name(loc)} (environment) {dotted}: {err['msg']}"
    line = next((lines[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in lines), 1)
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key" + _did_you_mean(loc)
    return f"{path}:{line} {dotted}: {message}"


def _did_you_mean(loc: tuple[str, ...]) -> str:
    model: Any = Config
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return ""
        annotation = field.annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    if model is None:
        return ""
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _get(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _set(data: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    for key in keys[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[keys[-1]] = value
