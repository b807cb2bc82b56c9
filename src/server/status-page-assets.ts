/**
 * The status page at /ui (design section 16): plain HTML, CSS and a script that reads the REST
 * API in the browser. Kept as strings in a module, so that the compiled build needs no copy step.
 * The script only ever sets `textContent`, so names and agent messages cannot inject markup.
 */

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agent-hub status</title>
<link rel="stylesheet" href="/ui/style.css">
<script src="/ui/app.js" defer></script>
</head>
<body>
<header>
  <h1>agent-hub</h1>
  <form id="token-form" autocomplete="off">
    <label for="token">API token</label>
    <input id="token" type="password" placeholder="none (auth off)">
    <button type="submit">Use</button>
  </form>
  <span id="updated" aria-live="polite">loading…</span>
</header>
<p id="error" hidden></p>
<main>
  <section>
    <h2>Accounts by state <span id="total"></span></h2>
    <table id="states"><thead><tr><th>state</th><th>accounts</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Needs attention: FAILED and ORPHANED <span id="attention-count"></span></h2>
    <table id="attention"><thead><tr><th>account</th><th>state</th><th>zone</th><th>last assignment message</th></tr></thead><tbody></tbody></table>
    <p id="attention-more" hidden></p>
  </section>
  <section>
    <h2>Agents by zone <span id="agent-count"></span></h2>
    <table id="zones"><thead><tr><th>zone</th><th>agents</th><th>accounts held</th><th>caching</th><th>agents (version)</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;

export const STATUS_CSS = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d2430; }
header { display: flex; gap: 1.5rem; align-items: center; flex-wrap: wrap; border-bottom: 1px solid #d8dde6; }
h1 { font-size: 1.4rem; margin: .8rem 0; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
h2 span { color: #5b6577; font-weight: normal; }
table { border-collapse: collapse; min-width: 24rem; }
th, td { text-align: left; padding: .25rem .8rem .25rem 0; border-bottom: 1px solid #eceff4; vertical-align: top; }
td.count { text-align: right; font-variant-numeric: tabular-nums; }
tr.FAILED td:first-child, tr.ORPHANED td:first-child { border-left: 4px solid #c62828; padding-left: .4rem; }
tr.ORPHANED td:first-child { border-left-color: #ef8f00; }
tr.zero { color: #9aa3b2; }
#error { background: #fdecea; color: #8e1c1c; padding: .5rem .8rem; border-radius: 4px; }
#updated { color: #5b6577; }
`;

export const STATUS_JS = `"use strict";
// Polls the REST API every few seconds (?refresh=MS to change it). The token, when given, is kept
// in sessionStorage for this tab only and sent as a bearer token.
const STATES = ["FAILED", "ORPHANED", "ACTIVATING", "TO_MIGRATE", "TO_DEACTIVATE", "DEACTIVATING", "DELETING", "ACTIVE", "INACTIVE"];
const ATTENTION_LIMIT = 100;
const TOKEN_KEY = "agentHubToken";
const refreshMs = Math.max(250, Number(new URLSearchParams(location.search).get("refresh")) || 3000);

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: "Bearer " + token } : {};
}

async function api(path) {
  const res = await fetch(path, { headers: headers() });
  const text = await res.text();
  const body = text === "" ? undefined : JSON.parse(text);
  if (!res.ok) {
    const message = body && typeof body.message === "string" ? body.message : "HTTP " + res.status;
    throw new Error(res.status === 401 ? "the hub needs an API token: " + message : message);
  }
  return body;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (className) td.className = className;
  row.appendChild(td);
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

async function refresh() {
  const [all, attention, agents, ...perState] = await Promise.all([
    api("/armory/accounts?limit=1"),
    api("/armory/accounts?status=FAILED&status=ORPHANED&limit=" + ATTENTION_LIMIT),
    api("/armory/agents"),
    ...STATES.map((s) => api("/armory/accounts?limit=1&status=" + s)),
  ]);

  document.getElementById("total").textContent = all.total + " in all";
  fill(document.querySelector("#states tbody"), STATES.map((state, i) => {
    const tr = document.createElement("tr");
    tr.dataset.state = state;
    tr.className = state + (perState[i].total === 0 ? " zero" : "");
    cell(tr, state);
    cell(tr, perState[i].total, "count");
    return tr;
  }));

  // FAILED first, then ORPHANED; by name within each.
  const items = attention.items.slice().sort((a, b) => (a.status === b.status ? 0 : a.status === "FAILED" ? -1 : 1));
  document.getElementById("attention-count").textContent = "(" + attention.total + ")";
  fill(document.querySelector("#attention tbody"), items.map((a) => {
    const tr = document.createElement("tr");
    tr.className = a.status;
    tr.dataset.account = a.name;
    cell(tr, a.name);
    cell(tr, a.status);
    cell(tr, a.zoneId === "" ? "(unpinned)" : a.zoneId);
    cell(tr, a.lastAssignmentMsg);
    return tr;
  }));
  const more = document.getElementById("attention-more");
  more.hidden = attention.total <= items.length;
  more.textContent = "and " + (attention.total - items.length) + " more: agent-hub accounts list --status FAILED --status ORPHANED";

  const zones = new Map();
  for (const agent of agents) {
    const z = zones.get(agent.zoneId) || { agents: [], accounts: 0, caching: 0 };
    z.agents.push(agent.version ? agent.agentId + " (" + agent.version + ")" : agent.agentId);
    z.accounts += agent.accounts;
    z.caching += agent.caching;
    zones.set(agent.zoneId, z);
  }
  document.getElementById("agent-count").textContent = "(" + agents.length + " connected)";
  fill(document.querySelector("#zones tbody"), [...zones.keys()].sort().map((zone) => {
    const z = zones.get(zone);
    const tr = document.createElement("tr");
    tr.dataset.zone = zone;
    cell(tr, zone === "" ? "(no zone)" : zone);
    cell(tr, z.agents.length, "count");
    cell(tr, z.accounts, "count");
    cell(tr, z.caching, "count");
    cell(tr, z.agents.join(", "));
    return tr;
  }));
}

async function loop() {
  const error = document.getElementById("error");
  try {
    await refresh();
    error.hidden = true;
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    error.hidden = false;
    error.textContent = "Cannot read the hub: " + err.message;
  }
  setTimeout(loop, refreshMs);
}

document.getElementById("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  if (token === "") sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
  void refresh().catch(() => {});
});
void loop();
`;
