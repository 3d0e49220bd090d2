// Nobody misses a critical alert: a new critical alert arriving on the live board plays a sound,
// shows a browser notification and marks the tab title until it is acknowledged (by anyone) or
// the operator presses "seen" on this screen. Muting is per browser session (sessionStorage)
// and always visible. Pending alarms survive a reload of the board (an acknowledge form reloads it).
(function () {
  "use strict";
  const box = document.getElementById("alarm");
  const list = document.getElementById("alerts");
  if (!box || !list) return;
  const sound = document.getElementById("alarm-sound");
  const muteButton = document.getElementById("alarm-mute");
  const enableButton = document.getElementById("alarm-enable");
  const banner = document.getElementById("alarm-banner");
  const seenButton = document.getElementById("alarm-seen");
  const baseTitle = document.title;
  const REPEAT_MS = 30000;  // the sound comes again while an alarm is pending and not seen
  const store = window.sessionStorage;
  let known = openCritical();  // alerts already on the board when it loaded do not ring
  let pending = new Set(JSON.parse(store.getItem("pingan.alarms") || "[]"));
  let repeat = null;

  // What tests and the curious can read: how often the sound played and notifications were shown.
  box.dataset.plays = "0";
  box.dataset.notifications = "0";

  function openCritical() {
    const found = new Map();
    list.querySelectorAll("article[data-alert][data-severity=critical][data-state=open]").forEach((el) => {
      found.set(el.dataset.alert, el);
    });
    return found;
  }

  function muted() { return store.getItem("pingan.muted") === "1"; }

  function showMute() {
    const on = muted();
    muteButton.setAttribute("aria-pressed", on ? "true" : "false");
    muteButton.textContent = on ? muteButton.dataset.off : muteButton.dataset.on;
    box.classList.toggle("muted", on);
  }

  function ring() {
    if (muted() || !sound) return;
    sound.currentTime = 0;
    const played = sound.play();
    if (played && played.then) {
      played.then(() => { box.dataset.plays = String(Number(box.dataset.plays) + 1); })
        .catch(() => { enableButton.hidden = false; });  // the browser wants a click first
    }
  }

  function notify(el) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const what = [el.querySelector(".kind"), el.querySelector(".who")].map((e) => (e ? e.textContent : "")).join(" · ");
    const note = new Notification(box.dataset.notifyTitle, { body: what, tag: el.dataset.alert, requireInteraction: true });
    note.onclick = () => { window.focus(); note.close(); };
    box.dataset.notifications = String(Number(box.dataset.notifications) + 1);
  }

  function render() {
    store.setItem("pingan.alarms", JSON.stringify([...pending]));
    const count = pending.size;
    document.title = count ? box.dataset.titleMark.replace("{n}", count) + " " + baseTitle : baseTitle;
    banner.hidden = count === 0;
    if (count && !repeat) repeat = setInterval(ring, REPEAT_MS);
    if (!count && repeat) { clearInterval(repeat); repeat = null; }
  }

  function update() {
    const now = openCritical();
    for (const id of [...pending]) if (!now.has(id)) pending.delete(id);  // acknowledged or resolved
    now.forEach((el, id) => {
      if (known.has(id)) return;
      pending.add(id);
      notify(el);
    });
    const rang = [...now.keys()].some((id) => !known.has(id));
    known = now;
    render();
    if (rang) ring();
  }

  muteButton.addEventListener("click", () => {
    store.setItem("pingan.muted", muted() ? "0" : "1");
    showMute();
    if (muted() && sound) sound.pause();
  });
  enableButton.addEventListener("click", () => {
    // A click lets the page play sound later; ask for notifications on the same gesture.
    if (sound) { sound.muted = true; sound.play().then(() => { sound.pause(); sound.muted = false; }).catch(() => { sound.muted = false; }); }
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
    enableButton.hidden = true;
  });
  seenButton.addEventListener("click", () => { pending.clear(); render(); });
  document.addEventListener("pingan:alerts", update);

  enableButton.hidden = "Notification" in window && Notification.permission !== "default";
  showMute();
  for (const id of [...pending]) if (!known.has(id)) pending.delete(id);
  render();
})();
