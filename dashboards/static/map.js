// Board map: homes, safe zones, tags' last fixes and trails; residents with an open alert in red.
// Works with no tile server at all (tile URL "none"): the vector layers are the map.
// Names come from the registry: they are always set as text (textContent), never as HTML —
// Leaflet's bindTooltip(string) would parse a string as markup.
(function () {
  "use strict";
  function text(value) {
    const span = document.createElement("span");
    span.textContent = value;
    return span;
  }
  const el = document.getElementById("map");
  const map = L.map(el, { zoomSnap: 0.5 });
  // The base layer (config `map.base`): its points arrive already converted to its coordinates
  // (GCJ-02 for AutoNavi) by /map/data.json. An overlay (天地图's labels) goes on top of it.
  if (el.dataset.tiles && el.dataset.tiles !== "none") {
    const options = { maxZoom: 18, subdomains: el.dataset.subdomains || "abc", attribution: el.dataset.attribution || "" };
    L.tileLayer(el.dataset.tiles, options).addTo(map);
    if (el.dataset.overlay) L.tileLayer(el.dataset.overlay, { maxZoom: 18, subdomains: options.subdomains }).addTo(map);
  }
  const red = "#c62828", blue = "#1d5fbf", green = "#2e7d32";

  fetch("/map/data.json", { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
    const bounds = [];
    data.zones.forEach((z) => {
      if (z.circle) L.circle([z.circle[0], z.circle[1]], { radius: z.circle[2], color: green, weight: 1, fillOpacity: 0.05 }).bindTooltip(text(z.name)).addTo(map);
      if (z.polygon) L.polygon(z.polygon, { color: green, weight: 1, fillOpacity: 0.05 }).bindTooltip(text(z.name)).addTo(map);
    });
    data.tags.forEach((t) => {
      if (t.trail.length > 1) L.polyline(t.trail, { color: t.alert ? red : blue, weight: 2, opacity: 0.7 }).addTo(map);
      if (t.fix) {
        L.circleMarker(t.fix, { radius: 6, color: t.alert ? red : blue, fillOpacity: 0.9 })
          .bindTooltip(text(el.dataset.labelTag + " " + t.device)).addTo(map);
        bounds.push(t.fix);
      }
    });
    data.homes.forEach((h) => {
      const marker = L.circleMarker([h.lat, h.lon], {
        radius: h.alert ? 11 : 8, color: h.alert ? red : "#1f2d3d", weight: h.alert ? 3 : 1.5,
        fillColor: h.alert ? red : "#fff", fillOpacity: h.alert ? 0.6 : 0.9,
      });
      const popup = document.createElement("div");
      const link = document.createElement("a");
      link.href = "/residents/" + encodeURIComponent(h.id);
      link.textContent = h.name;
      popup.appendChild(link);
      popup.appendChild(document.createTextNode(" · " + h.address));
      h.alerts.forEach((a) => {
        const item = document.createElement("a");
        item.href = "/alerts/" + encodeURIComponent(a.id);
        item.textContent = a.code + " " + a.kind;
        popup.appendChild(document.createElement("br"));
        popup.appendChild(item);
      });
      marker.bindPopup(popup).bindTooltip(text(h.name), { permanent: h.alert, direction: "top" }).addTo(map);
      bounds.push([h.lat, h.lon]);
    });
    if (bounds.length) map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
    else map.setView([45.75, 126.64], 13);
  });
})();
