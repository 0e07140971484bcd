// Supertest playground: log in with an API key, run a script, follow it over SSE, show the report.
"use strict";

const $ = (id) => document.getElementById(id);
const TERMINAL = new Set(["Passed", "Failed", "Error", "Cancelled", "TimedOut"]);
const MAX_LOG_LINES = 2000;
let source = null;

async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options };
  if (init.body !== undefined) init.headers = { "Content-Type": "application/json", ...(init.headers || {}) };
  const res = await fetch(path, init);
  let body = null;
  try { body = await res.json(); } catch (_) { /* empty or non-JSON body */ }
  return { res, body };
}

function toast(text) {
  const el = document.createElement("div");
  el.className = "toast";
  el.textContent = text;
  $("toasts").appendChild(el);
  setTimeout(() => el.remove(), 5000);
}

function setPhase(phase) {
  const badge = $("phase");
  badge.textContent = phase;
  badge.dataset.phase = phase;
}

function appendLog(line) {
  const log = $("log");
  log.append(line + "\n");
  while (log.childNodes.length > MAX_LOG_LINES) log.removeChild(log.firstChild);
  log.scrollTop = log.scrollHeight;
}

function showLogin() {
  $("login").hidden = false;
  $("playground").hidden = true;
  $("who").hidden = true;
  $("api-key").focus();
}

async function showApp(me) {
  $("login").hidden = true;
  $("playground").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `Signed in with ${me.keyName} (${me.keyPrefix}…)`;
  await prefillScript();
}

async function prefillScript() {
  // The first stored test, if any; otherwise the example embedded in the page stays.
  const list = await api("/api/tests");
  const first = list.res.ok && list.body.items.length ? list.body.items[0] : null;
  if (!first) return;
  const test = await api(`/api/tests/${encodeURIComponent(first.id)}`);
  if (test.res.ok) $("script").value = test.body.script;
}

async function login(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const { res, body } = await api("/api/auth/login", { method: "POST", body: JSON.stringify({ apiKey: $("api-key").value }) });
  if (!res.ok) {
    $("login-error").textContent = body ? body.message : `login failed (${res.status})`;
    return;
  }
  $("api-key").value = "";
  await showApp(body);
}

async function logout() {
  if (source) source.close();
  await api("/api/auth/logout", { method: "POST" });
  showLogin();
}

async function run(event) {
  event.preventDefault();
  $("run-error").textContent = "";
  $("summary").textContent = "";
  $("log").textContent = "";
  $("report-box").hidden = true;
  $("run").disabled = true;
  if (source) source.close();
  const { res, body } = await api("/api/test", { method: "POST", body: JSON.stringify({ script: $("script").value, title: "Playground run" }) });
  if (!res.ok) {
    $("run").disabled = false;
    if (res.status === 401) return showLogin();
    $("run-error").textContent = body ? body.message : `request failed (${res.status})`;
    if (res.status === 429) toast("The queue is full");
    return;
  }
  setPhase(body.phase);
  toast(`Run ${body.runId} queued`);
  follow(body);
}

function follow(submitted) {
  let started = false;
  source = new EventSource(submitted.statusUrl);
  source.addEventListener("status", (e) => {
    const event = JSON.parse(e.data);
    setPhase(event.phase);
    if (event.message) appendLog(`[${event.phase}] ${event.message}`);
    if (event.phase === "Running" && !started) { started = true; toast(`Run ${submitted.runId} started`); }
    if (TERMINAL.has(event.phase)) finish(submitted, event.phase);
  });
  source.addEventListener("log", (e) => appendLog(JSON.parse(e.data).line || ""));
  source.addEventListener("result", (e) => {
    const s = JSON.parse(e.data).summary;
    if (s) $("summary").textContent = `${s.passed} passed, ${s.failed} failed, ${s.flaky} flaky, ${s.skipped} skipped`;
  });
  source.onerror = () => {
    // EventSource reconnects by itself with Last-Event-ID; only a closed source is final.
    if (source && source.readyState === EventSource.CLOSED) $("run-error").textContent = "Lost the status stream.";
  };
}

async function finish(submitted, phase) {
  source.close();
  source = null;
  $("run").disabled = false;
  toast(`Run ${submitted.runId} finished: ${phase}`);
  const head = await fetch(submitted.reportUrl, { method: "HEAD", credentials: "same-origin" });
  if (!head.ok) { appendLog("(no report for this run)"); return; }
  $("report").src = submitted.reportUrl;
  $("report-link").href = submitted.reportUrl;
  $("report-box").hidden = false;
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("run-form").addEventListener("submit", run);
  $("logout").addEventListener("click", logout);
  const me = await api("/api/auth/me");
  if (me.res.ok) await showApp(me.body); else showLogin();
});
