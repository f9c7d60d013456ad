// baram dashboard. Plain JavaScript, no build step. The page holds no
// data: everything comes from /api/v1, with the browser's basic-auth
// credentials or a token typed into the page (kept in sessionStorage and
// sent as a bearer token).
"use strict";

const TOKEN_KEY = "baram-admin-token";
const POLL_MS = 1000;      // stats
const TABLE_POLL_MS = 2000; // the table of the open tab
const HISTORY = 120;       // chart points (two minutes at POLL_MS)
const PAGE = 50;           // table rows per page

const $ = (id) => document.getElementById(id);

// ---- API ----

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(path, { ...opts, headers, credentials: "same-origin", cache: "no-store" });
  if (res.status === 204) return null;
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const msg = (body && body.error) || res.status + " " + res.statusText;
    if (res.status === 401) {
      $("auth-status").textContent = token ? "token refused" : "sign in: enter a token, or reload for the login prompt";
    }
    throw new APIError(res.status, msg);
  }
  $("auth-status").textContent = token ? "using token" : "";
  return body;
}

function showError(err) {
  const banner = $("error-banner");
  if (!err) { banner.hidden = true; banner.textContent = ""; return; }
  banner.textContent = err.message || String(err);
  banner.hidden = false;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined && v !== null) q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}

// ---- formatting ----

function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function fmtDuration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + (s % 60) + "s";
  return s + "s";
}

function fmtRate(r) {
  return r >= 100 ? String(Math.round(r)) : r.toFixed(1);
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "onclick") e.addEventListener("click", v);
    else if (k.startsWith("data") || k === "title") e.setAttribute(k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()), v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// ---- chart: a small line chart on a canvas ----

// drawChart draws series ([{values, color}]) of equal length on canvas,
// scaled to the largest value, with three horizontal grid lines.
function drawChart(canvas, series) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const style = getComputedStyle(document.documentElement);
  const pad = { l: 44, r: 8, t: 8, b: 8 };
  const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
  let max = 0;
  for (const s of series) for (const v of s.values) max = Math.max(max, v);
  max = niceCeil(max);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 3; i++) {
    const y = pad.t + ph - ph * i / 3;
    ctx.strokeStyle = style.getPropertyValue("--line").trim() || "#ddd";
    ctx.beginPath(); ctx.moveTo(pad.l, y + 0.5); ctx.lineTo(w - pad.r, y + 0.5); ctx.stroke();
    ctx.fillStyle = style.getPropertyValue("--muted").trim() || "#666";
    ctx.fillText(fmtAxis(max * i / 3), pad.l - 6, y);
  }
  for (const s of series) {
    const n = s.values.length;
    if (n < 2) continue;
    ctx.strokeStyle = style.getPropertyValue(s.color).trim() || s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    s.values.forEach((v, i) => {
      const x = pad.l + pw * (HISTORY - n + i) / (HISTORY - 1);
      const y = pad.t + ph - (max ? ph * v / max : 0);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

function niceCeil(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 1.5, 2, 3, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmtAxis(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e3) return (v / 1e3).toFixed(1) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

// ---- overview ----

const history = { connections: [], in: [], out: [] };
let last = null; // the previous stats reading

async function pollStats() {
  let s;
  try { s = await api("/api/v1/stats"); } catch (err) { showError(err); return; }
  showError(null);
  $("connected-clients").textContent = s.connections;
  $("sessions-offline").textContent = s.sessions_offline;
  $("subscriptions-count").textContent = s.subscriptions;
  $("retained-count").textContent = s.retained;
  $("memory").textContent = fmtBytes(s.memory.total_bytes);
  $("uptime").textContent = fmtDuration(s.uptime_seconds);
  $("version").textContent = s.version;
  const t = Date.parse(s.time) / 1000;
  if (last && t > last.t) {
    const dt = t - last.t;
    const rin = Math.max(0, (s.messages_received - last.in) / dt);
    const rout = Math.max(0, (s.messages_sent - last.out) / dt);
    $("messages-in-rate").textContent = fmtRate(rin);
    $("messages-out-rate").textContent = fmtRate(rout);
    push(history.in, rin);
    push(history.out, rout);
  }
  push(history.connections, s.connections);
  last = { t, in: s.messages_received, out: s.messages_sent };
  drawCharts();
}

function push(a, v) { a.push(v); if (a.length > HISTORY) a.shift(); }

function drawCharts() {
  if ($("panel-overview").hidden) return;
  drawChart($("chart-connections"), [{ values: history.connections, color: "--accent" }]);
  drawChart($("chart-messages"), [{ values: history.in, color: "--in" }, { values: history.out, color: "--out" }]);
}

// ---- tables ----

// renderRows replaces tbody's rows unless the data is unchanged, so a
// refresh does not move what the user is about to click.
function renderRows(tbody, items, row) {
  const key = JSON.stringify(items);
  if (tbody.dataset.key === key) return;
  tbody.dataset.key = key;
  tbody.replaceChildren(...items.map(row));
}

const clientsPage = { offset: 0, total: 0 };

async function loadClients() {
  const body = await api("/api/v1/clients" + query({
    search: $("clients-search").value.trim(),
    connected: $("clients-connected-filter").value,
    limit: PAGE, offset: clientsPage.offset,
  }));
  clientsPage.total = body.total;
  $("clients-total").textContent = body.total;
  $("clients-prev").disabled = clientsPage.offset === 0;
  $("clients-next").disabled = clientsPage.offset + PAGE >= body.total;
  renderRows($("clients-body"), body.items, (c) => el("tr", { dataTestid: "client-row", dataClientId: c.client_id, dataConnected: String(c.connected) },
    el("td", { class: "wrap" }, c.client_id),
    el("td", {}, c.username),
    el("td", { class: c.connected ? "online" : "offline" }, c.connected ? "connected" : "offline"),
    el("td", {}, c.address),
    el("td", {}, c.protocol),
    el("td", {}, c.subscription_count),
    el("td", {}, c.queued),
    el("td", {}, c.inflight),
    el("td", {}, c.dropped),
    el("td", {}, c.connected ? el("button", { dataTestid: "disconnect-button", dataClientId: c.client_id, onclick: () => disconnect(c.client_id) }, "Disconnect") : ""),
  ));
}

async function disconnect(id) {
  try {
    await api("/api/v1/clients/" + encodeURIComponent(id) + "/disconnect", { method: "POST" });
    showError(null);
  } catch (err) { showError(err); }
  refresh();
}

async function loadSubscriptions() {
  const body = await api("/api/v1/subscriptions" + query({
    client: $("subscriptions-client").value.trim(), filter: $("subscriptions-search").value.trim(), limit: maxRows,
  }));
  $("subscriptions-total").textContent = body.total;
  renderRows($("subscriptions-body"), body.items, (s) => el("tr", { dataTestid: "subscription-row", dataClientId: s.client_id, dataFilter: s.filter },
    el("td", { class: "wrap" }, s.client_id), el("td", { class: "wrap" }, s.filter), el("td", {}, s.qos),
    el("td", {}, s.no_local ? "yes" : ""), el("td", {}, s.retain_as_published ? "yes" : ""),
    el("td", {}, s.retain_handling), el("td", {}, s.subscription_id || ""),
  ));
}

const maxRows = 1000;

async function loadRetained() {
  const body = await api("/api/v1/retained" + query({ filter: $("retained-filter").value.trim() || "#", limit: maxRows }));
  $("retained-total").textContent = body.total;
  renderRows($("retained-body"), body.items.map((m) => ({ topic: m.topic, qos: m.qos, size: m.size })), (m) =>
    el("tr", { dataTestid: "retained-row", dataTopic: m.topic },
      el("td", { class: "wrap" }, m.topic), el("td", {}, m.qos), el("td", {}, m.size),
      el("td", {},
        el("button", { dataTestid: "retained-view-button", dataTopic: m.topic, onclick: () => viewRetained(m.topic) }, "View"), " ",
        el("button", { dataTestid: "retained-delete-button", dataTopic: m.topic, onclick: () => deleteRetained(m.topic) }, "Delete")),
    ));
}

function retainedPath(topic) {
  return "/api/v1/retained/" + encodeURIComponent(topic);
}

async function viewRetained(topic) {
  const out = $("retained-payload");
  try {
    const m = await api(retainedPath(topic));
    out.textContent = m.topic + "\n\n" + (m.payload_text !== undefined ? m.payload_text : "(binary, base64)\n" + m.payload);
    showError(null);
  } catch (err) { out.textContent = ""; showError(err); }
}

async function deleteRetained(topic) {
  try {
    await api(retainedPath(topic), { method: "DELETE" });
    $("retained-payload").textContent = "Deleted " + topic;
    showError(null);
  } catch (err) { showError(err); }
  refresh();
}

// ---- tabs ----

const loaders = { clients: loadClients, subscriptions: loadSubscriptions, retained: loadRetained };
let current = "overview";

function showTab(name) {
  current = name;
  for (const b of document.querySelectorAll("nav [data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const p of document.querySelectorAll("main > section")) p.hidden = p.id !== "panel-" + name;
  if (name === "overview") drawCharts();
  if (name === "mqtt") initMQTT();
  refresh();
}

async function refresh() {
  const load = loaders[current];
  if (!load) return;
  try { await load(); showError(null); } catch (err) { showError(err); }
}

function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// ---- MQTT panel (MQTT.js over the broker's WebSocket listener) ----

let client = null;
let mqttInit = false;

async function initMQTT() {
  if (mqttInit) return;
  mqttInit = true;
  const hint = $("mqtt-hint");
  if (typeof mqtt === "undefined") { hint.textContent = "MQTT.js did not load."; return; }
  try {
    const body = await api("/api/v1/listeners");
    const ws = body.urls.find((u) => u.protocol === "ws" || u.protocol === "wss");
    if (ws && !$("mqtt-url").value) $("mqtt-url").value = reachable(ws.url);
    hint.textContent = ws ? "" : "The broker has no WebSocket listener; add one (protocol ws) to use this panel.";
  } catch (err) { showError(err); }
}

// reachable replaces a wildcard host (0.0.0.0, [::]) with the page's host.
function reachable(u) {
  try {
    const url = new URL(u);
    if (url.hostname === "0.0.0.0" || url.hostname === "[::]" || url.hostname === "") url.hostname = location.hostname;
    return url.toString();
  } catch (_) { return u; }
}

function setStatus(s) { $("mqtt-status").textContent = s; }

function mqttConnect() {
  if (client) client.end(true);
  const url = $("mqtt-url").value.trim();
  if (!url) { setStatus("error: no WebSocket URL"); return; }
  const opts = { clientId: "baram-dashboard-" + Math.random().toString(16).slice(2, 10), reconnectPeriod: 0, connectTimeout: 10000, protocolVersion: 5 };
  if ($("mqtt-username").value) { opts.username = $("mqtt-username").value; opts.password = $("mqtt-password").value; }
  setStatus("connecting");
  const c = mqtt.connect(url, opts);
  client = c;
  c.on("connect", () => { if (client === c) setStatus("connected"); });
  c.on("error", (err) => { if (client === c) setStatus("error: " + err.message); });
  c.on("close", () => {
    if (client !== c) return;
    const s = $("mqtt-status").textContent;
    if (s === "connecting") setStatus("error: connection closed");
    else if (!s.startsWith("error")) setStatus("disconnected");
  });
  c.on("message", (topic, payload, packet) => addMessage(topic, payload, packet.retain));
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function addMessage(topic, payload, retained) {
  let text;
  try { text = decoder.decode(payload); } catch (_) { text = "0x" + Array.from(payload, (b) => b.toString(16).padStart(2, "0")).join(""); }
  const list = $("mqtt-messages");
  list.prepend(el("li", { dataTestid: "mqtt-message", dataTopic: topic },
    el("span", { class: "topic" }, topic + (retained ? " (retained)" : "")), text));
  while (list.children.length > 200) list.lastChild.remove();
}

function mqttSubscribe() {
  if (!client || !client.connected) { setStatus("error: not connected"); return; }
  const filter = $("mqtt-sub-filter").value.trim();
  client.subscribe(filter, { qos: 1 }, (err) => { if (err) setStatus("error: " + err.message); });
}

function mqttPublish() {
  if (!client || !client.connected) { setStatus("error: not connected"); return; }
  const qos = Number($("mqtt-qos").value);
  client.publish($("mqtt-topic").value.trim(), $("mqtt-payload").value, { qos, retain: $("mqtt-retain").checked },
    (err) => { if (err) setStatus("error: " + err.message); });
}

// ---- start ----

function start() {
  for (const b of document.querySelectorAll("nav [data-tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("auth").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = $("auth-token").value.trim();
    if (v) sessionStorage.setItem(TOKEN_KEY, v);
    $("auth-token").value = "";
    pollStats(); refresh();
  });
  $("auth-clear").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); $("auth-status").textContent = ""; });
  if (sessionStorage.getItem(TOKEN_KEY)) $("auth-status").textContent = "using token";

  const reload = debounce(() => { clientsPage.offset = 0; refresh(); }, 200);
  $("clients-search").addEventListener("input", reload);
  $("clients-connected-filter").addEventListener("change", reload);
  $("clients-prev").addEventListener("click", () => { clientsPage.offset = Math.max(0, clientsPage.offset - PAGE); refresh(); });
  $("clients-next").addEventListener("click", () => { if (clientsPage.offset + PAGE < clientsPage.total) clientsPage.offset += PAGE; refresh(); });
  $("subscriptions-client").addEventListener("input", debounce(refresh, 200));
  $("subscriptions-search").addEventListener("input", debounce(refresh, 200));
  $("retained-filter").addEventListener("input", debounce(refresh, 300));

  $("mqtt-connect-form").addEventListener("submit", (e) => { e.preventDefault(); mqttConnect(); });
  $("mqtt-disconnect").addEventListener("click", () => { if (client) { const c = client; client = null; c.end(true); } setStatus("disconnected"); });
  $("mqtt-sub-form").addEventListener("submit", (e) => { e.preventDefault(); mqttSubscribe(); });
  $("mqtt-pub-form").addEventListener("submit", (e) => { e.preventDefault(); mqttPublish(); });
  window.addEventListener("resize", drawCharts);

  pollStats();
  setInterval(pollStats, POLL_MS);
  setInterval(() => { if (!document.hidden) refresh(); }, TABLE_POLL_MS);
}

start();
