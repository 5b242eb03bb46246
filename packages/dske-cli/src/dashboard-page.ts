/**
 * The dashboard page: hand-written HTML, CSS and a small script that draws the topology as SVG,
 * the PSRD pools as gauges and the key counts and rates, from the snapshots the server pushes
 * (Server-Sent Events on /api/events; the page polls /api/snapshot if the stream fails).
 * Embedded as strings so that the built package carries it (no asset copying, no CDN).
 * The script only sets textContent and attributes: node names never become markup.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dske dashboard</title>
<link rel="stylesheet" href="/dashboard.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <h1>dske <span class="sub">live dashboard</span></h1>
  <div id="summary" class="summary">
    <span id="conn" class="pill" data-conn="connecting">connecting</span>
    <span class="stat"><b id="nodes-up">–</b> nodes up</span>
    <span class="stat"><b id="total-issued">–</b> keys issued <small id="total-issued-rate"></small></span>
    <span class="stat"><b id="total-delivered">–</b> keys delivered <small id="total-delivered-rate"></small></span>
    <span class="stat muted">updated <span id="updated">never</span></span>
  </div>
</header>
<main>
  <section class="card wide">
    <h2>Topology</h2>
    <svg id="topology" role="img" aria-label="topology: hubs, clients and encryptors" viewBox="0 0 1000 420" preserveAspectRatio="xMidYMid meet"></svg>
    <div class="legend">
      <span><i class="sw ok"></i>PSRD ≥ stop threshold</span>
      <span><i class="sw mid"></i>refilling</span>
      <span><i class="sw low"></i>below start threshold</span>
      <span><i class="sw off"></i>node down / not registered</span>
    </div>
  </section>
  <section class="card wide">
    <h2>Keys <small class="muted" id="rate-window"></small></h2>
    <div class="cols">
      <div>
        <h3>Per client (KME)</h3>
        <table id="client-keys" class="grid">
          <thead><tr><th>client</th><th>SAEs</th><th>issued</th><th>keys/s</th><th>delivered</th><th>keys/s</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <div>
        <h3>Per SAE pair</h3>
        <table id="pair-keys" class="grid">
          <thead><tr><th>master SAE</th><th></th><th>slave SAE</th><th>issued</th><th>delivered</th><th>keys/s</th><th>last 60 s</th></tr></thead>
          <tbody></tbody>
        </table>
        <p id="pair-note" class="muted" hidden>No keys yet (or the clients serve no metrics).</p>
      </div>
    </div>
  </section>
  <section class="card wide">
    <h2>PSRD pools <small class="muted" id="psrd-scale"></small></h2>
    <table id="pools" class="grid pools"><thead></thead><tbody></tbody></table>
    <p class="muted small">Each cell: the pool the client spends on messages to the hub (c→h) and the one the hub spends on messages to the client (h→c), bytes available.</p>
  </section>
</main>
<script src="/dashboard.js"></script>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { --bg:#0f172a; --card:#111c33; --fg:#e2e8f0; --muted:#8ea0bd; --line:#23324f;
  --ok:#22c55e; --mid:#f59e0b; --low:#ef4444; --off:#64748b; --hub:#38bdf8; --client:#a78bfa; --sae:#f472b6; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; flex-wrap:wrap; align-items:baseline; gap:16px; padding:12px 20px; border-bottom:1px solid var(--line); }
h1 { margin:0; font-size:20px; } h1 .sub { color:var(--muted); font-weight:400; font-size:14px; }
h2 { margin:0 0 8px; font-size:15px; } h3 { margin:14px 0 6px; font-size:13px; color:var(--muted); }
.summary { display:flex; flex-wrap:wrap; gap:14px; align-items:center; }
.stat b { font-size:16px; } .muted { color:var(--muted); } .small { font-size:12px; }
.pill { padding:2px 8px; border-radius:10px; font-size:12px; background:var(--off); }
.pill[data-conn="live"] { background:#166534; } .pill[data-conn="polling"] { background:#854d0e; } .pill[data-conn="lost"] { background:#991b1b; }
main { display:grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap:14px; padding:14px 20px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; overflow:auto; }
.card.wide { grid-column: 1 / -1; }
.cols { display:grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap:20px; }
svg#topology { width:100%; height:auto; max-height:460px; display:block; }
.legend { display:flex; gap:16px; flex-wrap:wrap; font-size:12px; color:var(--muted); margin-top:6px; }
.sw { display:inline-block; width:18px; height:4px; margin-right:6px; vertical-align:middle; border-radius:2px; }
.sw.ok { background:var(--ok); } .sw.mid { background:var(--mid); } .sw.low { background:var(--low); } .sw.off { background:var(--off); }
table.grid { border-collapse:collapse; width:100%; font-variant-numeric: tabular-nums; }
table.grid th, table.grid td { padding:4px 6px; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
table.grid th { color:var(--muted); font-weight:500; font-size:12px; }
td.num { text-align:right; } td.arrow { color:var(--muted); }
tr[data-state="down"] td { color:var(--off); }
.badge { font-size:11px; padding:1px 6px; border-radius:8px; margin-left:6px; background:var(--low); color:#fff; }
.gauge { display:flex; align-items:center; gap:4px; font-size:11px; color:var(--muted); margin:1px 0; }
.gauge .bar { position:relative; width:70px; height:8px; border-radius:4px; background:#1e293b; overflow:hidden; }
.gauge .fill { position:absolute; left:0; top:0; bottom:0; border-radius:4px; }
.gauge .lbl { width:26px; } .gauge .val { width:44px; text-align:right; color:var(--fg); }
td.down { color:var(--off); font-size:12px; } td[data-hub-state="down"] .gauge, tr[data-state="down"] .gauge { opacity:.45; }
svg text { fill:var(--fg); font-size:13px; }
svg .node rect, svg .node circle { stroke-width:2; }
svg .hub rect { fill:#0c2a3d; stroke:var(--hub); } svg .client rect { fill:#221a3d; stroke:var(--client); }
svg .sae circle { fill:#3a1430; stroke:var(--sae); }
svg .node[data-state="down"] rect { fill:#2a1115; stroke:var(--low); stroke-dasharray:5 3; }
svg .node .state { font-size:11px; fill:var(--muted); } svg .node[data-state="down"] .state { fill:var(--low); font-weight:600; }
svg .row-label { fill:var(--muted); font-size:12px; }
svg line.link { stroke-width:2; stroke-opacity:.85; } svg line.link.off { stroke:var(--off); stroke-dasharray:4 4; stroke-opacity:.5; }
svg line.sae-link { stroke:var(--sae); stroke-width:1.5; stroke-opacity:.6; }
svg .spark { fill:none; stroke:var(--ok); stroke-width:1.5; }
`;

export const DASHBOARD_JS = String.raw`"use strict";
(function () {
  var SVGNS = "http://www.w3.org/2000/svg";
  var history = {}; // pair key -> [rate, ...] (last 60 snapshots)
  var lastSeq = 0;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function fmtRate(r) { return r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r > 0 ? r.toFixed(2) : "0"; }
  function fmtBytes(n) { return n >= 1e6 ? (n / 1e6).toFixed(1) + " MB" : n >= 1e4 ? (n / 1e3).toFixed(0) + " kB" : String(n) + " B"; }
  function level(avail, psrd) { return avail < psrd.start ? "low" : avail < psrd.stop ? "mid" : "ok"; }
  var COLORS = { ok: "#22c55e", mid: "#f59e0b", low: "#ef4444", off: "#64748b" };

  function spread(n, width, margin) {
    var xs = [];
    if (n === 1) return [width / 2];
    for (var i = 0; i < n; i++) xs.push(margin + (i * (width - 2 * margin)) / (n - 1));
    return xs;
  }

  function drawTopology(s) {
    var root = document.getElementById("topology");
    while (root.firstChild) root.removeChild(root.firstChild);
    var W = 1000, yHub = 60, yClient = 230, ySae = 370;
    var hubX = {}, clientX = {}, saeX = {};
    spread(s.hubs.length, W, 110).forEach(function (x, i) { hubX[s.hubs[i].name] = x; });
    spread(s.clients.length, W, 110).forEach(function (x, i) { clientX[s.clients[i].name] = x; });
    spread(s.encryptors.length, W, 90).forEach(function (x, i) { saeX[s.encryptors[i].name] = x; });
    var state = {};
    s.hubs.forEach(function (h) { state["hub:" + h.name] = h.state; });
    s.clients.forEach(function (c) { state["client:" + c.name] = c.state; });

    root.appendChild(svg("text", { x: 8, y: yHub + 4, "class": "row-label" }, "hubs"));
    root.appendChild(svg("text", { x: 8, y: yClient + 4, "class": "row-label" }, "clients"));
    root.appendChild(svg("text", { x: 8, y: ySae + 4, "class": "row-label" }, "encryptors"));

    var links = svg("g", { "class": "links" });
    s.links.forEach(function (l) {
      var up = state["hub:" + l.hub] === "up" && state["client:" + l.client] === "up";
      var cls = "off";
      if (up && l.registered !== false && l.clientOwned && l.hubOwned) {
        cls = level(Math.min(l.clientOwned.available, l.hubOwned.available), s.psrd);
      }
      var line = svg("line", { x1: clientX[l.client], y1: yClient - 18, x2: hubX[l.hub], y2: yHub + 18,
        "class": "link" + (cls === "off" ? " off" : ""), stroke: COLORS[cls], "data-link": l.client + "|" + l.hub, "data-level": cls });
      var t = svg("title", null, l.client + " ↔ " + l.hub + (l.clientOwned ? ": c→h " + l.clientOwned.available + " B, h→c " + (l.hubOwned ? l.hubOwned.available : "?") + " B" : ""));
      line.appendChild(t);
      links.appendChild(line);
    });
    s.encryptors.forEach(function (e) {
      links.appendChild(svg("line", { x1: saeX[e.name], y1: ySae - 14, x2: clientX[e.client], y2: yClient + 18, "class": "sae-link" }));
    });
    root.appendChild(links);

    function box(kind, n, x, y) {
      var g = svg("g", { "class": "node " + kind, "data-node": kind + ":" + n.name, "data-state": n.state });
      g.appendChild(svg("rect", { x: x - 56, y: y - 18, width: 112, height: 36, rx: 8 }));
      g.appendChild(svg("text", { x: x, y: y - 1, "text-anchor": "middle", "font-weight": 600 }, n.name));
      var sub = n.state === "up" ? ":" + n.port : n.state === "foreign" ? "FOREIGN" : "DOWN";
      if (n.state === "up" && kind === "hub" && typeof n.shares === "number") sub += " · " + n.shares + " shares";
      if (n.state === "up" && kind === "client" && typeof n.registeredHubs === "number") sub += " · " + n.registeredHubs + "/" + s.hubs.length + " hubs";
      g.appendChild(svg("text", { x: x, y: y + 13, "text-anchor": "middle", "class": "state" }, sub));
      var tip = kind + " " + n.name + " on port " + n.port + ": " + n.state + (n.detail ? " (" + n.detail + ")" : "");
      g.appendChild(svg("title", null, tip));
      return g;
    }
    s.hubs.forEach(function (h) { root.appendChild(box("hub", h, hubX[h.name], yHub)); });
    s.clients.forEach(function (c) { root.appendChild(box("client", c, clientX[c.name], yClient)); });
    s.encryptors.forEach(function (e) {
      var g = svg("g", { "class": "node sae", "data-node": "sae:" + e.name, "data-state": state["client:" + e.client] });
      g.appendChild(svg("circle", { cx: saeX[e.name], cy: ySae, r: 13 }));
      g.appendChild(svg("text", { x: saeX[e.name], y: ySae + 32, "text-anchor": "middle" }, e.name));
      g.appendChild(svg("title", null, "encryptor (SAE) " + e.name + " on client " + e.client));
      root.appendChild(g);
    });
  }

  function gauge(label, pool, psrd) {
    var g = el("div", { "class": "gauge", "data-pool": label, "data-available": pool ? pool.available : "" });
    g.appendChild(el("span", { "class": "lbl" }, label));
    var bar = el("span", { "class": "bar" });
    if (pool) {
      var frac = Math.max(0, Math.min(1, pool.available / psrd.full));
      var fill = el("span", { "class": "fill" });
      fill.style.width = (frac * 100).toFixed(1) + "%";
      fill.style.background = COLORS[level(pool.available, psrd)];
      bar.appendChild(fill);
    }
    g.appendChild(bar);
    g.appendChild(el("span", { "class": "val" }, pool ? fmtBytes(pool.available) : "?"));
    g.title = pool ? pool.available + " B available, " + pool.used + " B used of " + pool.size + " B received" : "unknown";
    return g;
  }

  function drawPools(s) {
    var table = document.getElementById("pools");
    var head = table.tHead; while (head.firstChild) head.removeChild(head.firstChild);
    var body = table.tBodies[0]; while (body.firstChild) body.removeChild(body.firstChild);
    var hr = el("tr"); hr.appendChild(el("th", null, "client \\ hub"));
    s.hubs.forEach(function (h) { hr.appendChild(el("th", { "data-state": h.state }, h.name + (h.state === "up" ? "" : " (down)"))); });
    head.appendChild(hr);
    var byKey = {};
    s.links.forEach(function (l) { byKey[l.client + "|" + l.hub] = l; });
    var hubUp = {};
    s.hubs.forEach(function (h) { hubUp[h.name] = h.state === "up"; });
    s.clients.forEach(function (c) {
      var tr = el("tr", { "data-state": c.state });
      var name = el("td", null, c.name);
      if (c.state !== "up") name.appendChild(el("span", { "class": "badge" }, "down"));
      tr.appendChild(name);
      s.hubs.forEach(function (h) {
        var l = byKey[c.name + "|" + h.name];
        var td = el("td", { "data-link": c.name + "|" + h.name, "data-hub-state": h.state });
        if (!l || l.source === "none") { td.className = "down"; td.textContent = "no data"; }
        else if (l.registered === false) { td.className = "down"; td.textContent = "not registered"; }
        else { td.appendChild(gauge("c→h", l.clientOwned, s.psrd)); td.appendChild(gauge("h→c", l.hubOwned, s.psrd)); }
        if (l && l.source === "hub") td.title = "from the hub's status (client down)";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    document.getElementById("psrd-scale").textContent = "(gauge full at " + s.psrd.full + " B; refill below " + s.psrd.start + " B, up to " + s.psrd.stop + " B)";
  }

  function sparkline(values) {
    var w = 90, h = 18, max = Math.max.apply(null, values.concat([0.001]));
    var s = svg("svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h });
    var pts = values.map(function (v, i) { return (values.length === 1 ? w : (i * w) / (values.length - 1)).toFixed(1) + "," + (h - 1 - (v / max) * (h - 2)).toFixed(1); });
    s.appendChild(svg("polyline", { points: pts.join(" "), "class": "spark" }));
    return s;
  }

  function drawKeys(s) {
    var body = document.querySelector("#client-keys tbody");
    while (body.firstChild) body.removeChild(body.firstChild);
    s.clients.forEach(function (c) {
      var tr = el("tr", { "data-client": c.name, "data-state": c.state });
      var name = el("td", null, c.name);
      if (c.state !== "up") name.appendChild(el("span", { "class": "badge" }, "down"));
      tr.appendChild(name);
      tr.appendChild(el("td", null, c.encryptors.length ? c.encryptors.join(", ") : "–"));
      tr.appendChild(el("td", { "class": "num", "data-issued": c.issued ? c.issued.count : "" }, c.issued ? c.issued.count : "–"));
      tr.appendChild(el("td", { "class": "num" }, c.issued ? fmtRate(c.issued.rate) : "–"));
      tr.appendChild(el("td", { "class": "num", "data-delivered": c.delivered ? c.delivered.count : "" }, c.delivered ? c.delivered.count : "–"));
      tr.appendChild(el("td", { "class": "num" }, c.delivered ? fmtRate(c.delivered.rate) : "–"));
      body.appendChild(tr);
    });
    var pbody = document.querySelector("#pair-keys tbody");
    while (pbody.firstChild) pbody.removeChild(pbody.firstChild);
    s.pairs.forEach(function (p) {
      var key = p.master + "|" + p.slave;
      var hist = history[key] || (history[key] = []);
      var rate = Math.max(p.issued.rate, p.delivered.rate);
      if (s.seq !== lastSeq) { hist.push(rate); if (hist.length > 60) hist.shift(); }
      var tr = el("tr", { "data-pair": key, "data-issued": p.issued.count, "data-delivered": p.delivered.count });
      tr.appendChild(el("td", null, p.master));
      tr.appendChild(el("td", { "class": "arrow" }, "→"));
      tr.appendChild(el("td", null, p.slave));
      tr.appendChild(el("td", { "class": "num" }, p.issued.count));
      tr.appendChild(el("td", { "class": "num" }, p.delivered.count));
      tr.appendChild(el("td", { "class": "num", title: "issued " + fmtRate(p.issued.rate) + "/s, delivered " + fmtRate(p.delivered.rate) + "/s" }, fmtRate(rate)));
      var sp = el("td"); sp.appendChild(sparkline(hist)); tr.appendChild(sp);
      pbody.appendChild(tr);
    });
    document.getElementById("pair-note").hidden = s.pairs.length > 0;
  }

  function render(s) {
    drawTopology(s);
    drawPools(s);
    drawKeys(s);
    lastSeq = s.seq;
    document.getElementById("nodes-up").textContent = s.totals.nodesUp + "/" + s.totals.nodes;
    document.getElementById("total-issued").textContent = s.totals.issued.count;
    document.getElementById("total-issued-rate").textContent = "(" + fmtRate(s.totals.issued.rate) + "/s)";
    document.getElementById("total-delivered").textContent = s.totals.delivered.count;
    document.getElementById("total-delivered-rate").textContent = "(" + fmtRate(s.totals.delivered.rate) + "/s)";
    document.getElementById("rate-window").textContent = "(rates over the last " + Math.round(s.rateWindowMs / 1000) + " s)";
    document.getElementById("updated").textContent = new Date(s.time).toLocaleTimeString();
    document.body.setAttribute("data-seq", String(s.seq));
  }

  function setConn(state) {
    var c = document.getElementById("conn");
    c.setAttribute("data-conn", state);
    c.textContent = state;
  }

  var pollTimer = null;
  function poll() {
    fetch("/api/snapshot", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) { render(s); setConn("polling"); } })
      .catch(function () { setConn("lost"); });
  }
  function startPolling() { if (pollTimer === null) { poll(); pollTimer = setInterval(poll, 1000); } }
  function stopPolling() { if (pollTimer !== null) { clearInterval(pollTimer); pollTimer = null; } }

  if (typeof EventSource === "function") {
    var es = new EventSource("/api/events");
    es.addEventListener("snapshot", function (ev) { stopPolling(); setConn("live"); render(JSON.parse(ev.data)); });
    es.onerror = function () { setConn("lost"); startPolling(); };
  } else {
    startPolling();
  }
})();
`;
