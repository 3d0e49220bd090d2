"""`python benchmarks/hub_profile.py <pingan arguments>`: `pingan` with the CPU of its ingestion path counted.

Used by `benchmarks/ingest.py --profile`. Each batch-level function of the path (and the network
thread's per-message hand-over) is wrapped to add up the CPU time of the thread that runs it
(`time.thread_time_ns`, inclusive: a function's figure contains what it calls); at exit the sums,
the call counts and each thread's CPU since the first batch are written as JSON to the path in
PINGAN_HUB_PROFILE. Per batch the wrappers cost a few microseconds, per message well under one,
so the figures are the hub's own (cProfile's per-call overhead distorts a path of small
functions; py-spy is not installed here). `report()` turns the file into the table the benchmark
prints.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import json
import os
import runpy
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: (module, attribute) of what is counted, in the order of the path.
FUNCTIONS = [
    ("hub.ingest.mqtt_connection", "MqttConnection._enqueue"),  # network thread, per message
    ("hub.ingest.batch", "BatchWriter.take_batch"),
    ("hub.ingest.batch", "BatchWriter._charge"),
    ("hub.ingest.batch", "BatchWriter._commit"),  # the transaction: everything below but take/charge
    ("hub.ingest.batch", "BatchWriter.interpret_all"),
    ("hub.ingest.batch", "BatchWriter._split_unknown"),
    ("hub.ingest.batch", "_unique"),
    ("hub.ingest.store", "insert_events"),
    ("hub.ingest.store", "fold_state"),  # up to session 13; then state_rows
    ("hub.ingest.store", "state_rows"),
    ("hub.ingest.store", "upsert_state"),  # up to session 13; then upsert_state_rows
    ("hub.ingest.store", "upsert_state_rows"),
    ("hub.rules.runtime", "HubCore.on_batch"),
    ("hub.rules.runtime", "HubCore._handle_messages"),  # Engine.handle per message
    ("hub.rules.runtime", "HubCore._store"),
    ("hub.rules.runtime", "HubCore._save_state"),  # from on_batch and from the scheduler's tick
    ("alerts.engine", "Engine.unit_state"),
    ("hub.rules.runtime", "write_units"),
    ("hub.ingest.batch", "BatchWriter._ack"),
    ("hub.rules.runtime", "HubCore.tick"),
    # scale-out (scale.partitions): the owner rules stored events from the database
    ("hub.rules.partitions", "PartitionedCore._consume"),  # the backlog check and HubCore.consume
    ("hub.rules.runtime", "HubCore._consume"),  # one transaction: everything below
    ("hub.rules.partitions", "PartitionSlot.unruled"),  # SELECT of the settled events, ORM rows
    ("hub.rules.runtime", "HubCore._messages"),  # the payloads interpreted again
    ("hub.rules.runtime", "HubCore._apply_messages"),  # the engine and the decisions stored
    ("hub.rules.partitions", "PartitionSlot.mark_ruled"),  # UPDATE events SET ruled
]

_cpu: Counter[str] = Counter()
_calls: Counter[str] = Counter()
_threads_at_first_batch: dict[str, float] = {}


def _thread_cpu() -> dict[str, float]:
    out = {}
    for thread in threading.enumerate():
        if thread.ident is not None:
            with contextlib.suppress(OSError):  # ended meanwhile
                out[thread.name] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return out


def _counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def counted(*args: Any, **kwargs: Any) -> Any:
        if name == "BatchWriter._commit" and not _threads_at_first_batch:
            _threads_at_first_batch.update(_thread_cpu())
        started = time.thread_time_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            _cpu[name] += time.thread_time_ns() - started
            _calls[name] += 1

    return counted


_gc_started = [0]


def _gc_time(phase: str, _info: dict[str, int]) -> None:
    """The garbage collector's CPU (of the thread it ran in) since the first batch."""
    if phase == "start":
        _gc_started[0] = time.thread_time_ns()
    elif _threads_at_first_batch:
        _cpu["garbage collector"] += time.thread_time_ns() - _gc_started[0]
        _calls["garbage collector"] += 1


def _install() -> None:
    import gc

    gc.callbacks.append(_gc_time)
    for module, attribute in FUNCTIONS:
        owner_name, _, name = attribute.rpartition(".")
        owner = importlib.import_module(module)
        owner = getattr(owner, owner_name) if owner_name else owner
        if not hasattr(owner, name):  # a function of another version of the code
            continue
        setattr(owner, name, _counted(attribute, getattr(owner, name)))


def _watch_threads(last: dict[str, float]) -> None:
    """Threads may end before exit (the writer at a stop): keep each one's latest CPU time."""
    while True:
        last.update(_thread_cpu())
        time.sleep(0.2)


def report(path: Path, messages: int) -> str:
    """The table: each thread's CPU since the first batch, then each function, in µs per message."""
    data = json.loads(path.read_text())
    n = max(messages, 1)
    lines = [f"  {'thread':28s} {'us/msg':>7s}"]
    for thread, cpu_s in sorted(data["threads"].items(), key=lambda kv: -kv[1]):
        if cpu_s * 1e6 / n >= 0.1:
            lines.append(f"  {thread:28s} {cpu_s * 1e6 / n:7.1f}")
    lines.append(f"  {'function (inclusive)':28s} {'us/msg':>7s} {'calls':>7s}")
    for _module, name in [*FUNCTIONS, ("", "garbage collector")]:
        lines.append(f"  {name:28s} {data['cpu'].get(name, 0) / 1e3 / n:7.1f} {data['calls'].get(name, 0):7d}")
    return "\n".join(lines)


def main() -> None:
    out = Path(os.environ["PINGAN_HUB_PROFILE"])
    last: dict[str, float] = {}
    threading.Thread(target=_watch_threads, args=(last,), name="profile-watch", daemon=True).start()

    def dump() -> None:
        last.update(_thread_cpu())
        threads = {t: cpu - _threads_at_first_batch.get(t, 0.0) for t, cpu in last.items() if t != "profile-watch"}
        out.write_text(json.dumps({"cpu": dict(_cpu), "calls": dict(_calls), "threads": threads}))

    _install()
    atexit.register(dump)
    sys.argv = ["pingan", *sys.argv[1:]]
    runpy.run_module("pingan", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
