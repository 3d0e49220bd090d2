// Operator board: live alert list over Server-Sent Events, ticking timers. No framework.
(function () {
  "use strict";
  const list = document.getElementById("alerts");
  const residents = document.getElementById("residents");
  const status = document.getElementById("live-status");
  // Timers count from the server's clock at page load, so a skewed browser clock does not matter.
  let serverNow = 0, loadedAt = 0;

  function syncClock() {
    const el = document.getElementById("alert-list");
    if (el) { serverNow = parseFloat(el.dataset.now); loadedAt = Date.now() / 1000; }
  }

  function fmt(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h > 0 ? h + ":" + pad(m) + ":" + pad(s) : pad(m) + ":" + pad(s);
  }

  function tick() {
    const now = serverNow + (Date.now() / 1000 - loadedAt);
    document.querySelectorAll(".timer[data-since]").forEach((el) => {
      el.textContent = fmt(now - parseFloat(el.dataset.since));
    });
  }

  async function reload(target, url) {
    if (!target) return;
    const known = new Set([...target.querySelectorAll("[data-alert]")].map((e) => e.dataset.alert));
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    // Keep open <details> open across reloads.
    const open = new Set([...target.querySelectorAll("details[open]")].map((d) => d.closest("[data-alert]")?.dataset.alert));
    target.innerHTML = await response.text();
    target.querySelectorAll("[data-alert]").forEach((e) => {
      if (!known.has(e.dataset.alert)) e.classList.add("fresh");
      if (open.has(e.dataset.alert)) e.querySelector("details")?.setAttribute("open", "");
    });
    if (target === list) { syncClock(); tick(); document.dispatchEvent(new CustomEvent("pingan:alerts")); }
  }

  // Live events come in bursts (a batch of a city's messages changes many residents at once):
  // they are coalesced, so the lists reload at most once per BATCH_MS, and never twice at a time.
  const BATCH_MS = 500;
  let pending = null, running = false, again = false;

  async function refreshNow() {
    pending = null;
    if (running) { again = true; return; }
    running = true;
    try {
      await Promise.all([reload(list, "/partials/alerts"), reload(residents, "/partials/residents" + window.location.search)]);
    } finally {
      running = false;
      if (again) { again = false; refreshAll(); }
    }
  }

  function refreshAll() {
    if (pending === null) pending = setTimeout(refreshNow, BATCH_MS);
  }

  // "Live" is shown only on the server's hello, sent once it has subscribed: the connection's
  // open event comes earlier, and an alert raised in between would never reach this board.
  // A hello after a reconnection reloads the lists, for what changed while the stream was down.
  let connectedBefore = false;

  function connect() {
    const source = new EventSource("/live");
    source.addEventListener("hello", () => {
      status && status.classList.add("on");
      if (connectedBefore) refreshAll();
      connectedBefore = true;
    });
    // The session ended (logout, timeout, user disabled): stop, and let the reload go to the login.
    source.addEventListener("ended", () => { source.close(); window.location.reload(); });
    ["alert", "resident", "absence", "device", "resync"].forEach((kind) => source.addEventListener(kind, refreshAll));
    source.onerror = () => { status && status.classList.remove("on"); };  // EventSource reconnects by itself
  }

  syncClock();
  tick();
  setInterval(tick, 1000);
  if (list) connect();
})();
