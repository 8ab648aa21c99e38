// Status page of the lbd master: polls the JSON API every 2 s and redraws
// the tables and charts in place.
"use strict";

const refreshMs = 2000;

// tokenKey names the API token in sessionStorage, which keeps it for this
// tab only and drops it when the tab closes.
const tokenKey = "lbd-api-token";

// tokenPrompt is the pending question for the token, shared by the requests
// that get 401 at the same time; tokenDeclined stops asking after Cancel.
let tokenPrompt = null;
let tokenDeclined = false;

// apiHeaders returns the headers of every API request, with the API token
// when the page has one.
function apiHeaders() {
  const headers = { "Accept": "application/json" };
  const token = sessionStorage.getItem(tokenKey);
  if (token) headers["Authorization"] = `Bearer ${token}`;
  return headers;
}

// askToken prompts for the API token once for all requests that got 401
// together. It resolves to true when the user entered a token.
function askToken() {
  if (tokenDeclined) return Promise.resolve(false);
  if (!tokenPrompt) {
    tokenPrompt = new Promise((resolve) => {
      setTimeout(() => {
        const token = (window.prompt("This master requires its API token (api_token). Enter it to continue:") || "").trim();
        if (token) {
          sessionStorage.setItem(tokenKey, token);
        } else {
          tokenDeclined = true;
        }
        tokenPrompt = null;
        resolve(Boolean(token));
      }, 0);
    });
  }
  return tokenPrompt;
}

// api sends one request. On 401 it prompts for the token, unless another
// request already replaced the token that this one sent, and tries once
// more.
async function api(method, path, retried) {
  const sent = sessionStorage.getItem(tokenKey);
  const resp = await fetch(path, { method, headers: apiHeaders(), cache: "no-store" });
  if (resp.status === 401 && !retried) {
    if (sessionStorage.getItem(tokenKey) !== sent) return api(method, path, true);
    sessionStorage.removeItem(tokenKey);
    if (await askToken()) return api(method, path, true);
  }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw new Error(body.error || `${method} ${path}: HTTP ${resp.status}`);
  }
  return body;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fillTable(id, rows, emptyText, columns) {
  const body = document.querySelector(`#${id} tbody`);
  if (rows.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: String(columns) }, emptyText)));
    return;
  }
  body.replaceChildren(...rows);
}

function showMessage(text, isError) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.style.color = isError ? "var(--bad)" : "";
}

async function taskAction(op, id) {
  try {
    const t = op === "cancel"
      ? await api("DELETE", `/v1/tasks/${encodeURIComponent(id)}`)
      : await api("POST", `/v1/tasks/${encodeURIComponent(id)}/retry`);
    showMessage(`${op === "cancel" ? "Canceled" : "Retried"} task ${t.id}: now ${t.status}`, false);
  } catch (err) {
    showMessage(`${op} ${id}: ${err.message}`, true);
  }
  refresh();
}

async function drain(node) {
  if (!confirm(`Drain worker ${node}? It finishes its running tasks, leaves the cluster and exits.`)) return;
  try {
    await api("POST", `/v1/workers/${encodeURIComponent(node)}/drain`);
    showMessage(`Worker ${node} is draining`, false);
  } catch (err) {
    showMessage(`drain ${node}: ${err.message}`, true);
  }
  refresh();
}

function renderStatus(st) {
  document.getElementById("master").textContent = st.version ? `${st.node} · ${st.version}` : st.node;
  const items = [
    ["Queued", st.queued], ["Retrying", st.retrying], ["Running", st.running],
    ["Workers", st.workers], ["Slots busy", `${st.busy_slots}/${st.slots}`],
    ["Succeeded", st.succeeded], ["Failed", st.failed], ["Canceled", st.canceled],
  ];
  document.getElementById("summary").replaceChildren(
    ...items.map(([k, v]) => el("div", { "data-name": k.toLowerCase() }, el("dt", {}, k), el("dd", {}, v))));
}

function renderMembers(members) {
  fillTable("members", members.map((m) => el("tr", { "data-node": m.node },
    el("td", {}, m.node),
    el("td", {}, m.role),
    el("td", { class: `state-${m.state}` }, m.draining ? `${m.state}, draining` : m.state),
    el("td", {}, m.addr),
    el("td", { class: "num" }, m.role === "worker" ? m.slots : ""),
    el("td", { class: "num" }, m.role === "worker" ? m.busy : ""),
    el("td", {}, m.role === "worker" && m.connected && !m.draining
      ? el("button", { type: "button", onclick: () => drain(m.node) }, "Drain") : ""),
  )), "no member", 7);
}

async function queueAction(op, name) {
  try {
    await api("POST", `/v1/queues/${encodeURIComponent(name)}/${op}`);
    showMessage(`queue ${name}: ${op === "pause" ? "paused" : "resumed"}`, false);
    refresh();
  } catch (err) {
    showMessage(`${op} queue ${name} failed: ${err.message}`, true);
  }
}

function renderQueues(queues) {
  fillTable("queues", queues.map((q) => el("tr", { "data-queue": q.name },
    el("td", {}, q.name),
    el("td", {}, q.paused ? "paused" : "active"),
    el("td", { class: "num" }, q.queued),
    el("td", { class: "num" }, q.delayed),
    el("td", { class: "num" }, q.running),
    el("td", { class: "num" }, formatNumber(q.bytes)),
    el("td", {}, el("button", { type: "button", "data-op": q.paused ? "resume" : "pause",
      onclick: () => queueAction(q.paused ? "resume" : "pause", q.name) }, q.paused ? "Resume" : "Pause")),
  )), "no queue yet", 7);
}

function renderActive(tasks) {
  fillTable("active", tasks.map((t) => el("tr", { "data-task": t.id },
    el("td", { class: "id" }, t.id),
    el("td", {}, t.type),
    el("td", {}, t.status),
    el("td", {}, t.worker || ""),
    el("td", { class: "num" }, `${t.attempts}/${t.max_attempts}`),
    el("td", {}, el("button", { type: "button", "data-op": "cancel", onclick: () => taskAction("cancel", t.id) }, "Cancel")),
  )), "nothing running or queued", 6);
}

function renderFailed(tasks) {
  fillTable("failed", tasks.map((t) => el("tr", { "data-task": t.id },
    el("td", { class: "id" }, t.id),
    el("td", {}, t.type),
    el("td", {}, t.finished ? new Date(t.finished).toLocaleTimeString() : ""),
    el("td", { class: "err" }, t.error || ""),
    el("td", {}, el("button", { type: "button", "data-op": "retry", onclick: () => taskAction("retry", t.id) }, "Retry")),
  )), "no failed task", 5);
}

// drawChart draws values as a line scaled to the highest value.
function drawChart(id, values, unit) {
  const svg = document.getElementById(`chart-${id}`);
  const top = Math.max(1, ...values);
  const n = Math.max(values.length - 1, 1);
  const points = values.map((v, i) => `${(i / n) * 300},${80 - (v / top) * 76 - 2}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  svg.replaceChildren(line);
  const last = values.length ? values[values.length - 1] : 0;
  document.getElementById(`range-${id}`).textContent =
    `now ${formatNumber(last)} ${unit}, max ${formatNumber(Math.max(0, ...values))} ${unit}`;
}

function formatNumber(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function renderHistory(h) {
  const s = h.samples;
  drawChart("queue", s.map((x) => x.queued), "tasks");
  const rates = [];
  for (let i = 1; i < s.length; i++) {
    const secs = (Date.parse(s[i].at) - Date.parse(s[i - 1].at)) / 1000;
    const done = (s[i].succeeded + s[i].failed) - (s[i - 1].succeeded + s[i - 1].failed);
    rates.push(secs > 0 ? Math.max(0, done / secs) : 0);
  }
  drawChart("rate", rates, "tasks/s");
}

async function refresh() {
  const conn = document.getElementById("conn");
  try {
    const [st, members, queues, running, queued, failed, history] = await Promise.all([
      api("GET", "/v1/status"),
      api("GET", "/v1/members"),
      api("GET", "/v1/queues"),
      api("GET", "/v1/tasks?status=running&limit=20"),
      api("GET", "/v1/tasks?status=queued&limit=20"),
      api("GET", "/v1/tasks?status=failed&limit=20"),
      api("GET", "/v1/history"),
    ]);
    renderStatus(st);
    renderMembers(members.members);
    renderQueues(queues.queues);
    renderActive(running.tasks.concat(queued.tasks));
    renderFailed(failed.tasks);
    renderHistory(history);
    conn.textContent = `updated ${new Date().toLocaleTimeString()}`;
    conn.classList.remove("down");
  } catch (err) {
    conn.textContent = `master unreachable: ${err.message}`;
    conn.classList.add("down");
  }
}

document.getElementById("by-id").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = document.getElementById("task-id").value.trim();
  const op = ev.submitter ? ev.submitter.dataset.op : "cancel";
  if (id) taskAction(op, id);
});

refresh();
setInterval(refresh, refreshMs);
