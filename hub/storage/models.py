"""SQLAlchemy 2 models of the registry, the event stream, alerts, the outbox and access control.

Times are Unix epoch seconds (UTC) in double-precision columns named `*_at`: the core, the
replay and the database share one representation, and SQLite cannot lose a time zone offset.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hub.storage.partitioning import day_of

# BigInteger is not a rowid alias on SQLite: use INTEGER there so ids autoincrement.
BigId = BigInteger().with_variant(Integer, "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# --- registry -----------------------------------------------------------------------------


class Community(Base):
    __tablename__ = "communities"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")


class Grid(Base):
    __tablename__ = "grids"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    name: Mapped[str] = mapped_column(String(200))


class ResponderGrid(Base):
    __tablename__ = "responder_grids"
    responder_id: Mapped[str] = mapped_column(ForeignKey("responders.id", ondelete="CASCADE"), primary_key=True)
    grid_id: Mapped[str] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True)


class Responder(Base):
    __tablename__ = "responders"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    role: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lon: Mapped[float | None] = mapped_column(Float)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    grids: Mapped[list[Grid]] = relationship(secondary="responder_grids", lazy="selectin")


class Shift(Base):
    """The operators' on-duty roster: the `operator` escalation role texts those on duty."""

    __tablename__ = "shifts"
    __table_args__ = (Index("ix_shifts_window", "starts_at", "ends_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    responder_id: Mapped[str] = mapped_column(ForeignKey("responders.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float, default=0.0)


class Resident(Base):
    __tablename__ = "residents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    grid_id: Mapped[str] = mapped_column(ForeignKey("grids.id"), index=True)
    address: Mapped[str] = mapped_column(String(400), default="")
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    share_location: Mapped[bool] = mapped_column(Boolean, default=False)
    inactivity: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    contacts: Mapped[list[Contact]] = relationship(
        cascade="all, delete-orphan", order_by="Contact.position", lazy="selectin"
    )
    zones: Mapped[list[Zone]] = relationship(cascade="all, delete-orphan", order_by="Zone.position", lazy="selectin")
    retired_at: Mapped[float | None] = mapped_column(Float)  # left the service; kept for its history


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    relation: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="zh")


class Zone(Base):
    __tablename__ = "zones"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    center_lat: Mapped[float | None] = mapped_column(Float)  # WGS-84
    center_lon: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    polygon: Mapped[list[Any] | None] = mapped_column(JSON)  # [[lat, lon], ...] in WGS-84
    source_crs: Mapped[str] = mapped_column(String(16), default="wgs84")  # as drawn; converted on import
    hours: Mapped[str | None] = mapped_column(String(16))


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    heartbeat_s: Mapped[int] = mapped_column(Integer, default=300)
    retired_at: Mapped[float | None] = mapped_column(Float)  # replaced or removed; kept for its history


class Absence(Base):
    __tablename__ = "absences"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[float] = mapped_column(Float)
    until_at: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(400), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")


# --- device traffic -----------------------------------------------------------------------


class DeviceState(Base):
    __tablename__ = "device_state"
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seen_at: Mapped[float | None] = mapped_column(Float)
    last_activity_at: Mapped[float | None] = mapped_column(Float)
    online: Mapped[bool | None] = mapped_column(Boolean)
    status_at: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[int | None] = mapped_column(Integer)
    rssi: Mapped[int | None] = mapped_column(Integer)
    fw: Mapped[str | None] = mapped_column(String(32))
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_acc: Mapped[float | None] = mapped_column(Float)
    last_fix_at: Mapped[float | None] = mapped_column(Float)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    skew_count: Mapped[int] = mapped_column(Integer, default=0)
    late_count: Mapped[int] = mapped_column(Integer, default=0)


# PostgreSQL: every ingestion batch rewrites the row of each device it saw. Pages kept half empty
# let the new version go on the same page (a HOT update: no new primary-key entry, the old version
# pruned in place); on full pages 96 % of the updates moved the row and indexed it again
# (docs/BENCHMARKS.md, "Session 13"). Migration dsff_0013 sets it on existing databases.
event.listen(DeviceState.__table__, "after_create",
             DDL("ALTER TABLE device_state SET (fillfactor = 50)").execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]


class Event(Base):
    """Every accepted device message, raw payload kept; (device, seq, ts) stored once."""

    __tablename__ = "events"
    __table_args__ = (
        # Also the index of every read by device (device pages, a resident's events, battery
        # points, erasure): they filter on device_id, then on `at`. Until revision evix_0014 a
        # second index (device_id, received_at) served them no better and cost each insert
        # ~1.3 µs of PostgreSQL's CPU (docs/BENCHMARKS.md, "Session 13").
        UniqueConstraint("device_id", "seq", "device_ts", name="uq_events_dedup"),
        # scale-out: the backlog a partition's owner still has to rule, in the order it is ruled
        # (device time, then id: PartitionSlot.unruled) — partial, so it holds the backlog only
        Index("ix_events_unruled", "partition", "at", "id", postgresql_where=text("NOT ruled"), sqlite_where=text("NOT ruled")),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    type: Mapped[str | None] = mapped_column(String(32))  # event type, or status state
    seq: Mapped[int | None] = mapped_column(BigInteger)
    device_ts: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float)  # the time the rules used
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    skewed: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    acc: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)
    # scale-out (hub/rules/partitions.py): the rules partition of the device's resident, and whether
    # that partition's owner has fed the event to its engine. One hub (no partitions): NULL, true.
    # Deferred: only the partitioned path filters on them, and reading events never needs them.
    partition: Mapped[int | None] = mapped_column(Integer, deferred=True)
    ruled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), deferred=True)
    # The UTC day of the device's ts (of received_at without one): on PostgreSQL the partition
    # key (hub/storage/partitioning.py), a function of the dedup key. Ingestion sets it; the
    # ORM fills it from the row's times.
    day: Mapped[int] = mapped_column(Integer, default=lambda ctx: _event_day(ctx), deferred=True)


def _event_day(context: Any) -> int:
    params = context.get_current_parameters()
    return day_of(params.get("device_ts"), params["received_at"])


class RuleFailure(Base):
    """A stored event that made a rule raise: the engine skips it from then on, so that a rebuild
    replaying it does not raise again and wedge the hub (docs/SECURITY.md, finding 17). `key` is
    the message's identity as the engine sees it live and on replay (hub.rules.runtime.message_key)."""

    __tablename__ = "rule_failures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    device_ts: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    error: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Float)


class ResidentStatus(Base):
    """The fused person state of each resident, as the core last decided it."""

    __tablename__ = "resident_status"
    resident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # home_active, home_quiet, away, unknown, alert
    reason: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")  # unused since reason codes; kept for old rows
    reason_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the reason's values (alerts/reasons.py)
    since_at: Mapped[float] = mapped_column(Float)


class Quarantine(Base):
    """A rejected device message: topic, bounded raw bytes and the reason."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(512))
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[float] = mapped_column(Float)


# --- alerts and dispatch ------------------------------------------------------------------


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_state_opened", "state", "opened_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    resident_id: Mapped[str | None] = mapped_column(String(64), index=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    zone: Mapped[str | None] = mapped_column(String(200))
    # Why, as data (alerts/reasons.py): {"reason": {code, params}, "notes": [...]}. `reason` holds
    # the code; rows from before the catalogue hold an English sentence there and no data
    # (read back as the code `legacy_text`).
    reason: Mapped[str] = mapped_column(Text, default="")
    reason_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[float] = mapped_column(Float)
    first_notified_at: Mapped[float | None] = mapped_column(Float)
    acknowledged_at: Mapped[float | None] = mapped_column(Float)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    on_site_at: Mapped[float | None] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(16))
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[float | None] = mapped_column(Float, index=True)
    triggered_at: Mapped[float | None] = mapped_column(Float)  # device time of the cause; SMS texts of later steps need it
    transitions: Mapped[list[AlertTransition]] = relationship(order_by="AlertTransition.id", lazy="selectin")


class AlertTransition(Base):
    __tablename__ = "alert_transitions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[float] = mapped_column(Float)
    by: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))  # rules, board, api, sms, web, system
    note: Mapped[str] = mapped_column(Text, default="")


class Notification(Base):
    """The outbox: one row per message to one recipient, written with the alert transaction."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # alert, done, reply, digest
    step: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(32), default="")
    recipient_id: Mapped[str | None] = mapped_column(String(64))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(20), index=True)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    next_attempt_at: Mapped[float | None] = mapped_column(Float)
    lease_until: Mapped[float | None] = mapped_column(Float)
    valid_until: Mapped[float | None] = mapped_column(Float)
    provider_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    sent_at: Mapped[float | None] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # dispatch: why this message exists (StepReason, "done", "replacement", ...) and which
    # sender holds the lease, so a sender whose lease was taken over cannot overwrite the row.
    reason: Mapped[str] = mapped_column(String(32), default="")
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    # The text as a template of alerts/templates.py and its parameters: what domestic providers
    # send (their approved wording); `body` is the same template rendered here (Twilio, console).
    template: Mapped[str | None] = mapped_column(String(32))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # sms | voice (a text-to-speech call to `phone`) | group (a card to the robot `role` of the
    # grid `recipient_id`; `phone` empty). docs/DISPATCH.md "Channels".
    channel: Mapped[str] = mapped_column(String(8), default="sms", server_default="sms")


class ShortLink(Base):
    """`/s/{code}` in an SMS: redirects to the signed responder link, and expires with it."""

    __tablename__ = "short_links"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    alert_id: Mapped[str | None] = mapped_column(String(64), index=True)


class InboundSms(Base):
    """Each inbound SMS (the provider's message id) that was acted on: a reply acts at most once.

    Twilio's signature carries no timestamp, so a recorded, validly signed reply can be posted
    again at any time, and Aliyun's and Tencent's pushes are not signed and are retried; this row
    refuses a repeat. No phone number or text (those are in the audit)."""

    __tablename__ = "sms_inbound"
    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[float] = mapped_column(Float, index=True)


class Audit(Base):
    """Who did what, when, through which channel."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[str | None] = mapped_column(String(40), index=True)
    resident_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EngineState(Base):
    """The core's persisted state, one JSON document per key (resident or device)."""

    __tablename__ = "engine_state"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float)


class EngineUnit(Base):
    """The rules engine's state, one row per unit of one engine (hub/rules/runtime.py).

    `scope` is the engine (`engine`, or `engine:<p>` for a partition); `unit` a resident id
    (their state, their devices', their open alerts and deadlines) or `device:<id>` for a
    device of nobody, and `@meta` for the engine's time and counters. A decision rewrites only
    the units it changed, in its own transaction; start-up reads the scope's rows in one go.
    `data` is compact JSON text (default fields left out), written and read as is."""

    __tablename__ = "engine_units"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[str] = mapped_column(Text)


class RegistryChange(Base):
    """One write to the registry: the residents and devices it changed (`full`: too many to
    list, or communities and grids — reload everything). Every hub tails this log and adopts
    just these entries (hub/registry/changes.py), so one edit never reloads a city."""

    __tablename__ = "registry_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    residents: Mapped[list[str]] = mapped_column(JSON)
    devices: Mapped[list[str]] = mapped_column(JSON)
    full: Mapped[bool] = mapped_column(Boolean, default=False)


class PartitionLease(Base):
    """Scale-out: which hub runs the rules of one partition of residents, until when.

    The row is also the partition's lock: every decision for the partition locks it
    (`SELECT ... FOR UPDATE`), and `state_version` counts the saves of its engine state, so a
    hub whose cached engine is older reloads it (see hub/rules/partitions.py)."""

    __tablename__ = "partition_leases"
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    state_version: Mapped[int] = mapped_column(BigInteger, default=0)


class HubPresence(Base):
    """Scale-out: the hubs alive now (each renews its row), so partitions are shared fairly."""

    __tablename__ = "hub_presence"
    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    alive_until: Mapped[float] = mapped_column(Float)


# --- access -------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    disabled_at: Mapped[float | None] = mapped_column(Float)  # a disabled user cannot log in
    # Communities and grids (ids) this user may see; null: all (dashboards/scope.py).
    scope: Mapped[list[str] | None] = mapped_column(JSON)


class WebSession(Base):
    """A board login. The cookie holds a random session id; only its SHA-256 is kept here, so a
    dump or backup of the database cannot be turned into a cookie. Ended rows stay until the
    absolute lifetime has passed (hub.access.sweep_sessions)."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    end_reason: Mapped[str | None] = mapped_column(String(32))  # logout, disable, set_role, reset_password, remove


class LoginFailure(Base):
    """Failed board logins in the current window, per key: SHA-256 of (account, address) or of
    the address alone. Shared by every hub on the database; bounded by dashboards.auth.LoginThrottle."""

    __tablename__ = "login_failures"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[float] = mapped_column(Float, index=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)
    scope: Mapped[list[str] | None] = mapped_column(JSON)  # as users.scope


class FamilyToken(Base):
    __tablename__ = "family_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)
