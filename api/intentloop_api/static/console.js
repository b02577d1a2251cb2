// The intentloop console: reads the TMF Open APIs as the signed-in user (a Kubernetes
// token kept in this tab only) and reloads when the server-sent stream says something
// changed. The token is read from the URL fragment (never sent to a server) or the form.
"use strict";

const TMF = {
  services: "/tmf-api/serviceInventory/v4/service",
  resources: "/tmf-api/resourceInventoryManagement/v4/resource?category=link",
  alarms: "/tmf-api/alarmManagement/v4/alarm",
  tickets: "/tmf-api/troubleTicket/v4/troubleTicket?status=acknowledged,inProgress",
};
let token = sessionStorage.getItem("intentloop-token");
let noc = false;

function takeTokenFromFragment() {
  const m = /token=([^&]+)/.exec(location.hash);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem("intentloop-token", token);
    history.replaceState(null, "", location.pathname);
  }
}

async function get(path, type = "json") {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return type === "json" ? r.json() : r.blob();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

function row(cells, cls = "") {
  return el("tr", cls ? { class: cls } : {}, ...cells.map((c) => el("td", {}, c)));
}

function fill(tableId, rows) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...rows);
}

function char(item, name) {
  const c = (item.serviceCharacteristic || item.resourceCharacteristic || []).find((x) => x.name === name);
  return c ? c.value : "";
}

function showLinks(links) {
  fill("links", links.map((l) => {
    const state = char(l, "operState") || "unknown";
    const r = row([l.name, el("span", { class: state }, state), char(l, "measuredLatencyMs"), char(l, "reservedMbps")]);
    r.dataset.link = l.name;
    r.dataset.state = state;
    return r;
  }));
}

function alarmLine(a) {
  const sev = el("span", { class: a.perceivedSeverity }, a.perceivedSeverity);
  return el("span", { "data-alarm": a.externalAlarmId, "data-root": String(a.isRootCause) },
    sev, ` ${a.probableCause} on ${a.alarmedObject.id} — ${a.state}, ${a.ackState}`,
    a.isRootCause ? " (root cause)" : "");
}

function showAlarms(alarms) {
  const active = alarms.filter((a) => a.state !== "cleared");
  const byName = new Map(active.map((a) => [a.externalAlarmId, a]));
  const children = new Map();
  const tops = [];
  for (const a of active) {
    const parent = (a.parentAlarm || [])[0];
    if (parent && byName.has(parent.name)) {
      if (!children.has(parent.name)) children.set(parent.name, []);
      children.get(parent.name).push(a);
    } else tops.push(a);
  }
  tops.sort((x, y) => Number(y.isRootCause) - Number(x.isRootCause));
  document.getElementById("alarms").replaceChildren(...tops.map((a) => {
    const folded = children.get(a.externalAlarmId) || [];
    if (!folded.length) return el("div", {}, alarmLine(a));
    return el("details", { open: "" }, el("summary", {}, alarmLine(a), ` · ${folded.length} correlated`),
      ...folded.map((c) => el("div", { class: "correlated" }, "↳ ", alarmLine(c))));
  }));
  if (!tops.length) document.getElementById("alarms").append(el("p", {}, "No active alarms."));
}

function showTickets(tickets) {
  fill("tickets", tickets.map((t) => {
    const root = t.relatedEntity.filter((e) => e.role === "rootCause").map((e) => e.name).join(", ");
    const svcs = t.relatedEntity.filter((e) => e.role === "affectedService").map((e) => e.id).join(", ");
    const r = row([t.name, el("span", { class: t.status }, t.status), t.severity, root, svcs]);
    r.dataset.ticket = t.id;
    return r;
  }));
}

const HEALTH = { inactive: 0, reserved: 1, feasibilityChecked: 1, designed: 1, active: 2, terminated: 3 };

function showServices(services) {
  services.sort((a, b) => (HEALTH[a.state] - HEALTH[b.state]) || (String(char(a, "slaMet")) === "false" ? -1 : 1));
  fill("services", services.map((s) => {
    const sla = char(s, "slaMet");
    return row([s.id, s.category, el("span", { class: s.state }, s.state), String(sla), char(s, "measuredLatencyMs"), (char(s, "path") || []).join(" → ")]);
  }));
}

function showTransactions(txs) {
  document.getElementById("transactions").replaceChildren(...txs.map((t) => el("details", {},
    el("summary", {}, `${t.time} ${t.id} — ${t.intent} ${t.phase} (${t.durationMs ?? "?"} ms)`),
    ...t.devices.map((d) => el("div", {}, el("b", {}, `${d.device}: ${d.outcome}`), el("pre", {}, d.diff || "(no change)"))))));
}

async function refresh() {
  const jobs = [get(TMF.alarms).then(showAlarms), get(TMF.tickets).then(showTickets),
    get(TMF.services).then(showServices), get("/console-api/transactions").then(showTransactions)];
  if (noc) {
    jobs.push(get(TMF.resources).then(showLinks));
    jobs.push(get("/console-api/topology.svg", "blob").then((b) => {
      const img = document.getElementById("topology");
      const old = img.src;
      img.src = URL.createObjectURL(b);
      if (old) URL.revokeObjectURL(old);
    }));
  }
  await Promise.allSettled(jobs);
  document.body.dataset.refreshed = String(Date.now());
}

let pending = null;
function soon() {
  if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150);
}

async function follow() {
  const live = document.getElementById("live");
  for (;;) {
    try {
      const r = await fetch("/console-api/stream", { headers: { Authorization: `Bearer ${token}` } });
      const reader = r.body.getReader();
      live.className = "live on"; live.textContent = "live";
      soon();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (new TextDecoder().decode(value).includes("event: changed")) soon();
      }
    } catch (e) { /* reconnect below */ }
    live.className = "live off"; live.textContent = "reconnecting";
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

async function start() {
  takeTokenFromFragment();
  if (!token) {
    const form = document.getElementById("signin");
    form.hidden = false;
    form.onsubmit = (e) => { e.preventDefault(); sessionStorage.setItem("intentloop-token", document.getElementById("token").value); location.reload(); };
    return;
  }
  const me = await get("/console-api/whoami");
  noc = me.noc;
  document.body.classList.toggle("noc", noc);
  document.getElementById("who").textContent = `${me.user} — ${noc ? "NOC" : `tenant ${me.namespace}`}`;
  document.getElementById("main").hidden = false;
  await refresh();
  follow();
}

start();
