/**
 * The dashboard page: hand-written HTML, CSS and a small script that draws the topology as SVG,
 * the PSRD pools as gauges coloured by the configured thresholds (with a legend that names them),
 * node restarts, and the key counts, rates and sparklines (with their scale), all as the snapshot
 * says (the page computes no figure of its own), from the snapshots the server pushes
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
    <span class="stat" id="total-spark" title="keys issued per second, all pairs"></span>
    <span class="stat muted">updated <span id="updated">never</span></span>
  </div>
</header>
<main>
  <section class="card wide">
    <h2>Topology</h2>
    <svg id="topology" role="img" aria-label="topology: hubs, clients and encryptors" viewBox="0 0 1000 420" preserveAspectRatio="xMidYMid meet"></svg>
    <div class="legend" id="legend">
      <span data-level="ok"><i class="sw ok"></i><span class="txt">PSRD at or above the refill threshold</span></span>
      <span data-level="low"><i class="sw mid"></i><span class="txt">below the refill threshold (refill due)</span></span>
      <span data-level="exhausted"><i class="sw low"></i><span class="txt">exhausted</span></span>
      <span data-level="down"><i class="sw down"></i><span class="txt">node down / not registered</span></span>
    </div>
  </section>
  <section class="card wide">
    <h2>Keys <small class="muted" id="rate-window"></small></h2>
    <div class="cols">
      <div>
        <h3>Per client (KME)</h3>
        <table id="client-keys" class="grid">
          <thead><tr><th>client</th><th>SAEs</th><th>issued</th><th>keys/s</th><th>delivered</th><th>keys/s</th><th>process</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <div>
        <h3>Per SAE pair</h3>
        <table id="pair-keys" class="grid">
          <thead><tr><th>master SAE</th><th></th><th>slave SAE</th><th>issued</th><th>keys/s</th><th>delivered</th><th>keys/s</th><th id="spark-head">issued keys/s</th></tr></thead>
          <tbody></tbody>
          <tfoot></tfoot>
        </table>
        <p id="pair-note" class="muted" hidden>No keys yet (or the clients serve no metrics).</p>
      </div>
    </div>
  </section>
  <section class="card wide">
    <h2>PSRD pools <small class="muted" id="psrd-scale"></small></h2>
    <table id="pools" class="grid pools"><thead></thead><tbody></tbody></table>
    <p class="muted small">Each cell: the pool the client spends on messages to the hub (c→h) and the one the hub spends on messages to the client (h→c), bytes available; the tick on each bar is the refill threshold.</p>
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
.sw.down { background:repeating-linear-gradient(90deg, var(--low) 0 5px, transparent 5px 8px); }
.restart { font-size:11px; padding:1px 6px; border-radius:8px; background:#854d0e; color:#fff; }
.spark { display:inline-flex; align-items:stretch; gap:4px; vertical-align:middle; }
.spark-scale { display:flex; flex-direction:column; justify-content:space-between; font-size:10px; line-height:10px; color:var(--muted); min-width:54px; }
.spark .unknown { fill:#1e293b; } .spark .axis { stroke:var(--line); stroke-width:1; }
tfoot td { font-weight:600; border-top:1px solid var(--muted); }
table.grid { border-collapse:collapse; width:100%; font-variant-numeric: tabular-nums; }
table.grid th, table.grid td { padding:4px 6px; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
table.grid th { color:var(--muted); font-weight:500; font-size:12px; }
td.num { text-align:right; } td.arrow { color:var(--muted); }
tr[data-state="down"] td { color:var(--off); }
.badge { font-size:11px; padding:1px 6px; border-radius:8px; margin-left:6px; background:var(--low); color:#fff; }
.gauge { display:flex; align-items:center; gap:4px; font-size:11px; color:var(--muted); margin:1px 0; }
.gauge .bar { position:relative; width:70px; height:8px; border-radius:4px; background:#1e293b; overflow:hidden; }
.gauge .fill { position:absolute; left:0; top:0; bottom:0; border-radius:4px; }
.gauge .tick { position:absolute; top:0; bottom:0; width:2px; background:#e2e8f0; opacity:.7; }
.gauge .lbl { width:26px; } .gauge .val { width:44px; text-align:right; color:var(--fg); }
td.down { color:var(--off); font-size:12px; } td[data-hub-state="down"] .gauge, tr[data-state="down"] .gauge { opacity:.45; }
svg text { fill:var(--fg); font-size:13px; }
svg .node rect, svg .node circle { stroke-width:2; }
svg .hub rect { fill:#0c2a3d; stroke:var(--hub); } svg .client rect { fill:#221a3d; stroke:var(--client); }
svg .sae circle { fill:#3a1430; stroke:var(--sae); }
svg .node[data-state="down"] rect { fill:#2a1115; stroke:var(--low); stroke-dasharray:5 3; }
svg .node .state { font-size:11px; fill:var(--muted); } svg .node[data-state="down"] .state { fill:var(--low); font-weight:600; }
svg .row-label { fill:var(--muted); font-size:12px; }
svg line.link { stroke-width:2; stroke-opacity:.85; } svg line.link.down { stroke-dasharray:4 4; stroke-opacity:.6; }
svg .node .restarted { font-size:11px; fill:var(--mid); }
svg line.sae-link { stroke:var(--sae); stroke-width:1.5; stroke-opacity:.6; }
svg polyline.spark-line { fill:none; stroke:var(--ok); stroke-width:1.5; }
`;

export const DASHBOARD_JS = String.raw`"use strict";
(function () {
  var SVGNS = "http://www.w3.org/2000/svg";

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
  function fmtNum(n) { return n >= 100 ? n.toFixed(0) : String(Number(n.toPrecision(3))); }
  function fmtTime(iso) { return new Date(iso).toLocaleTimeString(); }
  // Levels come from the snapshot (the configured thresholds, dashboard-levels.ts).
  var COLORS = { ok: "#22c55e", low: "#f59e0b", exhausted: "#ef4444", down: "#ef4444" };
  function restartText(n) {
    if (!n.restarts) return n.startedAt ? "started " + fmtTime(n.startedAt) : "";
    return "restarted at " + fmtTime(n.restartedAt) + (n.restarts > 1 ? " (" + n.restarts + "×)" : "");
  }

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
      var cls = l.level;
      var line = svg("line", { x1: clientX[l.client], y1: yClient - 18, x2: hubX[l.hub], y2: yHub + 18,
        "class": "link" + (cls === "down" ? " down" : ""), stroke: COLORS[cls], "data-link": l.client + "|" + l.hub, "data-level": cls });
      var t = svg("title", null, l.client + " ↔ " + l.hub + ": " + cls + (l.clientOwned ? "; c→h " + l.clientOwned.available + " B, h→c " + (l.hubOwned ? l.hubOwned.available : "?") + " B" : "") +
        " (refill below " + s.psrd.start + " B, up to " + s.psrd.stop + " B; exhausted below " + s.psrd.exhausted + " B)");
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
      g.setAttribute("data-restarts", String(n.restarts || 0));
      if (n.restarts) g.appendChild(svg("text", { x: x, y: y + 32, "text-anchor": "middle", "class": "restarted" }, "↻ " + fmtTime(n.restartedAt)));
      var tip = kind + " " + n.name + " on port " + n.port + ": " + n.state + (n.detail ? " (" + n.detail + ")" : "") + (restartText(n) ? "; " + restartText(n) : "");
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
      fill.style.background = COLORS[pool.level];
      bar.appendChild(fill);
      g.setAttribute("data-level", pool.level);
    }
    var tick = el("span", { "class": "tick" });
    tick.style.left = (Math.min(1, psrd.start / psrd.full) * 100).toFixed(1) + "%";
    bar.appendChild(tick);
    g.appendChild(bar);
    g.appendChild(el("span", { "class": "val" }, pool ? fmtBytes(pool.available) : "?"));
    g.title = (pool ? pool.level + ": " + pool.available + " B available, " + pool.used + " B used of " + pool.size + " B received" : "unknown") +
      "; refill below " + psrd.start + " B, up to " + psrd.stop + " B; exhausted below " + psrd.exhausted + " B";
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
    document.getElementById("psrd-scale").textContent = "(gauge full at " + s.psrd.full + " B; refill below " + s.psrd.start + " B, up to " + s.psrd.stop + " B; exhausted below " + s.psrd.exhausted + " B)";
  }

  // A sparkline with its scale: the top (a round figure) with the unit, the bottom (0); the span
  // before the dashboard's first round is shaded (shown as 0).
  function sparkline(sp, what) {
    var w = 110, h = 26, n = sp.points.length;
    var span = Math.round((n * sp.stepMs) / 1000);
    var box = el("span", { "class": "spark", "data-max": sp.max, "data-min": sp.min, "data-unit": sp.unit, "data-points": n, "data-known": sp.known, "data-span-s": span });
    var s = svg("svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h, role: "img", "aria-label": what + ", last " + span + " s" });
    function x(i) { return n === 1 ? w : (i * w) / (n - 1); }
    function y(v) { return h - 1 - Math.min(1, v / sp.max) * (h - 2); }
    if (sp.known < n) {
      var r = svg("rect", { x: 0, y: 0, width: x(n - sp.known).toFixed(1), height: h, "class": "unknown" });
      r.appendChild(svg("title", null, "before the dashboard's first poll (shown as 0)"));
      s.appendChild(r);
    }
    s.appendChild(svg("line", { x1: 0, y1: y(0), x2: w, y2: y(0), "class": "axis" }));
    s.appendChild(svg("polyline", { points: sp.points.map(function (v, i) { return x(i).toFixed(1) + "," + y(v).toFixed(1); }).join(" "), "class": "spark-line" }));
    s.appendChild(svg("title", null, what + " over the last " + span + " s; scale 0 to " + fmtNum(sp.max) + " " + sp.unit + "; now " + fmtNum(sp.points[n - 1] || 0)));
    box.appendChild(s);
    var scale = el("span", { "class": "spark-scale" });
    scale.appendChild(el("span", { "class": "spark-max" }, fmtNum(sp.max) + " " + sp.unit));
    scale.appendChild(el("span", { "class": "spark-min" }, String(sp.min) + " · " + span + " s"));
    box.appendChild(scale);
    return box;
  }

  function drawKeys(s) {
    var body = document.querySelector("#client-keys tbody");
    while (body.firstChild) body.removeChild(body.firstChild);
    s.clients.forEach(function (c) {
      var tr = el("tr", { "data-client": c.name, "data-state": c.state, "data-restarts": c.restarts || 0 });
      var name = el("td", null, c.name);
      if (c.state !== "up") name.appendChild(el("span", { "class": "badge" }, "down"));
      tr.appendChild(name);
      tr.appendChild(el("td", null, c.encryptors.length ? c.encryptors.join(", ") : "–"));
      var from = c.countsFrom === "status" ? "from the client's key records (it serves no metrics)" : "since the client started, across restarts";
      tr.appendChild(el("td", { "class": "num", "data-issued": c.issued ? c.issued.count : "", title: from }, c.issued ? c.issued.count : "–"));
      tr.appendChild(el("td", { "class": "num" }, c.issued ? fmtRate(c.issued.rate) : "–"));
      tr.appendChild(el("td", { "class": "num", "data-delivered": c.delivered ? c.delivered.count : "", title: from }, c.delivered ? c.delivered.count : "–"));
      tr.appendChild(el("td", { "class": "num" }, c.delivered ? fmtRate(c.delivered.rate) : "–"));
      var proc = el("td", { "class": "process" });
      if (c.restarts) proc.appendChild(el("span", { "class": "restart", title: "the counts carry on across restarts" }, restartText(c)));
      else proc.textContent = restartText(c) || "–";
      tr.appendChild(proc);
      body.appendChild(tr);
    });
    var pbody = document.querySelector("#pair-keys tbody");
    while (pbody.firstChild) pbody.removeChild(pbody.firstChild);
    function keyCells(tr, issued, delivered) {
      tr.appendChild(el("td", { "class": "num" }, issued.count));
      tr.appendChild(el("td", { "class": "num" }, fmtRate(issued.rate)));
      tr.appendChild(el("td", { "class": "num" }, delivered.count));
      tr.appendChild(el("td", { "class": "num" }, fmtRate(delivered.rate)));
    }
    s.pairs.forEach(function (p) {
      var key = p.master + "|" + p.slave;
      var tr = el("tr", { "data-pair": key, "data-issued": p.issued.count, "data-delivered": p.delivered.count });
      tr.appendChild(el("td", null, p.master));
      tr.appendChild(el("td", { "class": "arrow" }, "→"));
      tr.appendChild(el("td", null, p.slave));
      keyCells(tr, p.issued, p.delivered);
      var sp = el("td"); sp.appendChild(sparkline(p.spark, "keys issued per second, " + p.master + " → " + p.slave)); tr.appendChild(sp);
      pbody.appendChild(tr);
    });
    var foot = document.querySelector("#pair-keys tfoot");
    while (foot.firstChild) foot.removeChild(foot.firstChild);
    var tr = el("tr", { "data-pair": "*", "data-issued": s.totals.issued.count, "data-delivered": s.totals.delivered.count });
    tr.appendChild(el("td", { colspan: 3 }, "all pairs"));
    keyCells(tr, s.totals.issued, s.totals.delivered);
    var tsp = el("td"); tsp.appendChild(sparkline(s.totals.spark.issued, "keys issued per second, all pairs")); tr.appendChild(tsp);
    foot.appendChild(tr);
    document.getElementById("spark-head").textContent = "issued keys/s, last " + Math.round((s.totals.spark.issued.points.length * s.totals.spark.issued.stepMs) / 1000) + " s";
    document.getElementById("pair-note").hidden = s.pairs.length > 0;
  }

  function drawLegend(p) {
    var text = {
      ok: "≥ " + p.start + " B: at or above the refill threshold",
      low: "< " + p.start + " B: refill due (the client refills up to " + p.stop + " B)",
      exhausted: "< " + p.exhausted + " B: exhausted",
      down: "node down / not registered"
    };
    var items = document.querySelectorAll("#legend [data-level]");
    for (var i = 0; i < items.length; i++) {
      var lvl = items[i].getAttribute("data-level");
      items[i].querySelector(".txt").textContent = text[lvl];
      items[i].setAttribute("data-start", String(p.start));
      items[i].setAttribute("data-stop", String(p.stop));
    }
  }

  function render(s) {
    drawTopology(s);
    drawPools(s);
    drawKeys(s);
    drawLegend(s.psrd);
    document.getElementById("nodes-up").textContent = s.totals.nodesUp + "/" + s.totals.nodes;
    document.getElementById("total-issued").textContent = s.totals.issued.count;
    document.getElementById("total-issued-rate").textContent = "(" + fmtRate(s.totals.issued.rate) + "/s)";
    document.getElementById("total-delivered").textContent = s.totals.delivered.count;
    document.getElementById("total-delivered-rate").textContent = "(" + fmtRate(s.totals.delivered.rate) + "/s)";
    var ts = document.getElementById("total-spark");
    while (ts.firstChild) ts.removeChild(ts.firstChild);
    ts.appendChild(sparkline(s.totals.spark.issued, "keys issued per second, all pairs"));
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
