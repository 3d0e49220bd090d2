"""The CPU `pingan serve` spends after `hub.start()` (not a test): while a backlog drains, this runs in
the main thread beside ingestion.

    PYTHONPATH=<checkout> .venv/bin/python benchmarks/serve_start.py      # several fresh processes
    PYTHONPATH=<checkout> .venv/bin/python -X importtime benchmarks/serve_start.py 2>imports.txt

`pingan serve` imports its command line (`pingan.cli`) and builds the hub, starts it, then logs the
production checks (`warn_unless_production_ready`), imports uvicorn and the web app and builds it
(`hub_server`) and lets uvicorn start (docs/INGESTION.md "Start-up"). Here the hub is built on a
scratch SQLite database with the checkout's config.yaml but not started (no broker); the rest is
`pingan serve`'s own code, and uvicorn is stopped as soon as it serves. The last line, in CPU
seconds of the main thread: `pre_start_imports_s` (before the start, for reference), `warn_s`,
`hub_server_s`, `uvicorn_startup_s` and their sum `after_start_s`. With `-X importtime`, the
imports after the start are those between the `MARK-START` and `MARK-BUILT` lines of stderr.
Bytecode matters: a source without its `.pyc` (PYTHONDONTWRITEBYTECODE, a fresh checkout) is
compiled at every start; a `pip install` writes them.
"""

from __future__ import annotations

import time

started = time.process_time()
import pingan.cli  # noqa: E402, F401  what `pingan serve` has imported before the hub starts

pre_start_imports_s = time.process_time() - started

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import hub  # noqa: E402
from hub.config import load_config  # noqa: E402
from hub.storage.db import upgrade  # noqa: E402
from pingan.serve import hub_server, warn_unless_production_ready  # noqa: E402
from pingan.wiring import build_hub  # noqa: E402


def main() -> int:
    os.environ["PINGAN_DATABASE__URL"] = f"sqlite:///{tempfile.mkdtemp()}/serve_start.db"
    os.environ.setdefault("PINGAN_HTTP__SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("PINGAN_HTTP__PORT", "18765")
    config_file = Path(hub.__file__).resolve().parents[1] / "config.yaml"
    config = load_config(config_file)
    upgrade(config.database.url)
    built = build_hub(config)
    import gc

    gc.freeze()  # as pingan/serve.py after the start
    gc.set_threshold(20_000, 20, 20)
    print("MARK-START", file=sys.stderr, flush=True)
    t0 = time.thread_time()
    warn_unless_production_ready(config, config_file)
    t1 = time.thread_time()
    server = hub_server(built, config)
    t2 = time.thread_time()
    print("MARK-BUILT", file=sys.stderr, flush=True)
    served: dict[str, float] = {}
    startup = server.startup

    async def timed_startup(*args: Any, **kwargs: Any) -> None:
        await startup(*args, **kwargs)
        served["at"] = time.thread_time()

    def stop_when_serving() -> None:
        while not server.started:
            time.sleep(0.005)
        server.should_exit = True

    server.startup = timed_startup  # type: ignore[method-assign]
    threading.Thread(target=stop_when_serving, daemon=True).start()
    server.run()  # the lifespan's hub.stop() does nothing: the hub never started
    t3 = served["at"]
    print(json.dumps({"pre_start_imports_s": round(pre_start_imports_s, 3), "warn_s": round(t1 - t0, 3),
                      "hub_server_s": round(t2 - t1, 3), "uvicorn_startup_s": round(t3 - t2, 3),
                      "after_start_s": round(t3 - t0, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
