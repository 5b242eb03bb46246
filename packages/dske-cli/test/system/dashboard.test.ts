/**
 * System: `dske-cli dashboard` (the built bin) over a running default topology, driven in headless
 * Chromium (Debian's `chromium`, installed by scripts/install-system-deps.sh; playwright-core
 * with executablePath). Checks that every node appears, that the idle healthy topology is green
 * (colours from the configured thresholds, named in the legend), that the sparklines are drawn
 * with their scale from the first snapshot, that a key pair made over ETSI shows up in the key
 * counts (per client and per SAE pair), that a restarted client keeps its counts, is shown
 * restarted, and the header, client and pair figures still agree, and that a stopped hub is
 * shown down. The
 * dashboard is the operator's: only its one-time login link opens it (then a session cookie).
 * Ports 18700-18749 (topology 18700-18709, dashboard 18710).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { BIN, eventually, keyPair, SystemTopology, SYSTEM_TIMEOUT } from "./harness";
import { defined } from "../defined";

jest.setTimeout(SYSTEM_TIMEOUT);

const CHROMIUM = "/usr/bin/chromium";
const DASHBOARD_PORT = 18710;
const t = new SystemTopology(18700);

let dashboard: ChildProcess | undefined;
let dashboardOut = "";
let browser: BrowserContext | undefined;
let page: Page;
let profileDir: string;
let loginUrl: string;

/** Start the dashboard bin; resolves with its URL once it printed `dashboard on URL`. */
function startDashboard(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, "--config", t.configFile, "--state-dir", t.stateDir, "dashboard", "--port", String(DASHBOARD_PORT), "--interval", "500"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    dashboard = child;
    const timer = setTimeout(() => reject(new Error(`dashboard did not start within 30 s; output: ${dashboardOut}`)), 30_000);
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (dashboardOut += d));
    child.stdout.on("data", (d: string) => {
      dashboardOut += d;
      const m = /^dashboard on (http:\/\/\S+)$/m.exec(dashboardOut);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dashboard exited with code ${code}: ${dashboardOut}`));
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run scripts/install-system-deps.sh as root (apt-get install chromium) — the dashboard test needs it`,
    );
  }
  const r = await t.cli("start");
  if (r.code !== 0) throw new Error(`start failed: ${r.stderr}`);
  const url = await startDashboard();
  expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${DASHBOARD_PORT}/\\?token=[0-9a-f]{64}$`));
  loginUrl = url;
  profileDir = mkdtempSync(path.join(tmpdir(), "dske-chromium-"));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1000 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('#conn[data-conn="live"]', { timeout: 20_000 });
  expect(errors).toEqual([]);
}, SYSTEM_TIMEOUT);

afterAll(async () => {
  await browser?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  const running = dashboard;
  if (running && running.exitCode === null) {
    const exited = new Promise<number | null>((resolve) => running.once("exit", (code) => resolve(code)));
    running.kill("SIGTERM");
    await exited;
  }
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

/** Integer value of an attribute of the first element matching `selector` (NaN if absent). */
async function attrNumber(selector: string, attr: string): Promise<number> {
  const v = await page.getAttribute(selector, attr, { timeout: 10_000 });
  return v === null || v === "" ? NaN : Number(v);
}

/** Attribute `attr` of every element matching `selector`. */
async function attrsOf(selector: string, attr: string): Promise<(string | null)[]> {
  return Promise.all((await page.locator(selector).all()).map((l) => l.getAttribute(attr)));
}

/** The key figures the page shows. */
interface Figures {
  header: { issued: number; delivered: number };
  clients: Record<string, { issued: number; delivered: number }>;
  pairs: Record<string, { issued: number; delivered: number }>;
  allPairs: { issued: number; delivered: number };
}

/** The page's figures, read from one copy of its DOM (so from one render). */
async function figuresOnce(): Promise<Figures | undefined> {
  const html = await page.content();
  const header = (id: string) => Number(new RegExp(`<b id="${id}">(\\d+)</b>`).exec(html)?.[1] ?? NaN);
  const attr = (text: string, name: string) => Number(new RegExp(`${name}="(\\d+)"`).exec(text)?.[1] ?? NaN);
  const clients: Figures["clients"] = {};
  for (const m of html.matchAll(/<tr data-client="([^"]+)"[^>]*>(.*?)<\/tr>/g)) {
    clients[m[1]] = { issued: attr(m[2], "data-issued"), delivered: attr(m[2], "data-delivered") };
  }
  const pairs: Figures["pairs"] = {};
  let allPairs: Figures["allPairs"] | undefined;
  for (const m of html.matchAll(/<tr data-pair="([^"]+)"[^>]*>/g)) {
    const counts = { issued: attr(m[0], "data-issued"), delivered: attr(m[0], "data-delivered") };
    if (m[1] === "*") allPairs = counts;
    else pairs[m[1]] = counts;
  }
  if (allPairs === undefined || Object.keys(clients).length !== t.topology.clients.length) return undefined;
  return { header: { issued: header("total-issued"), delivered: header("total-delivered") }, clients, pairs, allPairs };
}

/** Figures of one render that satisfy `ok` (polled until they do). */
async function figuresWhen(what: string, ok: (f: Figures) => boolean): Promise<Figures> {
  let last: Figures | undefined;
  await eventually(
    what,
    async () => {
      const f = await figuresOnce();
      if (f !== undefined) last = f;
      return f !== undefined && ok(f);
    },
    30_000,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last figures: ${JSON.stringify(last)}`, { cause: err });
  });
  return defined(last, "figures");
}

const sum = (xs: Record<string, { issued: number; delivered: number }>, side: "issued" | "delivered"): number =>
  Object.values(xs).reduce((n, x) => n + x[side], 0);

/** Header = sum over clients = sum over pairs = the pairs' total row, for issued and for delivered keys. */
function agree(f: Figures): boolean {
  return (["issued", "delivered"] as const).every(
    (side) => f.header[side] === sum(f.clients, side) && f.header[side] === sum(f.pairs, side) && f.header[side] === f.allPairs[side],
  );
}

/** Wait until the page shows a number >= `min` in `attr` of `selector` (polled from here: the page's CSP forbids eval). */
async function waitForAttrAtLeast(selector: string, attr: string, min: number): Promise<void> {
  let last = NaN;
  try {
    await eventually(
      `${selector} ${attr} >= ${min}`,
      async () => {
        const v = await page.getAttribute(selector, attr, { timeout: 1000 }).catch(() => null);
        last = v === null || v === "" ? NaN : Number(v);
        return last >= min;
      },
      20_000,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (last seen: ${last})`, { cause: err });
  }
}

describe("dske-cli dashboard in headless Chromium", () => {
  it("draws every node of the topology (hubs, clients, encryptors), all up, with their PSRD gauges", async () => {
    for (const h of t.topology.hubs) {
      await page.waitForSelector(`svg [data-node="hub:${h.name}"][data-state="up"]`, { timeout: 20_000 });
    }
    for (const c of t.topology.clients) {
      await page.waitForSelector(`svg [data-node="client:${c.name}"][data-state="up"]`, { timeout: 20_000 });
    }
    for (const e of t.topology.allEncryptors()) {
      expect(await page.locator(`svg [data-node="sae:${e}"]`).count()).toBe(1);
      await expect(page.locator(`svg [data-node="sae:${e}"] text`).textContent()).resolves.toBe(e);
    }
    expect(await page.locator("svg [data-node]").count()).toBe(t.topology.nodes.length + t.topology.allEncryptors().length);
    // One link per (client, hub), each with two gauges; PSRD is there after start.
    expect(await page.locator("svg line[data-link]").count()).toBe(t.topology.clients.length * t.topology.hubs.length);
    const available = await attrNumber('#pools td[data-link="carol|hank"] [data-pool="c→h"]', "data-available");
    expect(available).toBeGreaterThan(0);
    await expect(page.locator("#nodes-up").textContent()).resolves.toBe("10/10");
  });

  it("an idle healthy topology is green: colours follow the configured thresholds, which the legend names", async () => {
    const { start_request_psrd_threshold: start, stop_request_psrd_threshold: stop } = t.topology.config;
    const levels = await attrsOf("svg line[data-link]", "data-level");
    expect(levels).toEqual(new Array(t.topology.clients.length * t.topology.hubs.length).fill("ok"));
    const gauges = await attrsOf("#pools .gauge", "data-level");
    expect(gauges).toEqual(new Array(2 * t.topology.clients.length * t.topology.hubs.length).fill("ok"));
    await expect(page.locator('#legend [data-level="ok"]').textContent()).resolves.toContain(`≥ ${start} B`);
    await expect(page.locator('#legend [data-level="low"]').textContent()).resolves.toContain(`up to ${stop} B`);
    expect(await page.getAttribute('#legend [data-level="ok"]', "data-start")).toBe(String(start));
    // Each pool's tooltip names the thresholds too.
    expect(await page.getAttribute('#pools td[data-link="carol|hank"] [data-pool="c→h"]', "title")).toContain(`refill below ${start} B`);
  });

  it("sparklines are drawn from the first snapshot, full width, with their scale (max with unit, min, span)", async () => {
    const spark = "#total-spark .spark";
    await page.waitForSelector(spark);
    // 60 s at one point per 500 ms poll, from the start (not empty for a minute).
    expect(await page.getAttribute(spark, "data-points")).toBe("120");
    expect(await page.getAttribute(spark, "data-unit")).toBe("keys/s");
    expect(Number(await page.getAttribute(spark, "data-max"))).toBeGreaterThan(0);
    await expect(page.locator(`${spark} .spark-max`).textContent()).resolves.toMatch(/^\d+(\.\d+)? keys\/s$/);
    await expect(page.locator(`${spark} .spark-min`).textContent()).resolves.toBe("0 · 60 s");
    expect(await page.locator(`${spark} polyline`).getAttribute("points")).toMatch(/^(\S+,\S+ ){119}\S+,\S+$/);
    await expect(page.locator('#pair-keys tfoot tr[data-pair="*"] .spark .spark-max').textContent()).resolves.toMatch(/keys\/s$/);
  });

  it("a key pair made over ETSI shows up: sam's client issued, sunny's client delivered, the sam → sunny pair", async () => {
    await page.waitForSelector('#client-keys tr[data-client="carol"] [data-issued]');
    const issuedBefore = await attrNumber('#client-keys tr[data-client="carol"] [data-issued]', "data-issued");
    const deliveredBefore = await attrNumber('#client-keys tr[data-client="curtis"] [data-delivered]', "data-delivered");
    const pairRow = '#pair-keys tr[data-pair="sam|sunny"]';
    const hadPair = (await page.locator(pairRow).count()) > 0;
    const pairIssuedBefore = hadPair ? await attrNumber(pairRow, "data-issued") : 0;
    const pairDeliveredBefore = hadPair ? await attrNumber(pairRow, "data-delivered") : 0;

    const { enc, dec } = await keyPair(t, "sam", "sunny", { number: 3 });
    expect(dec.sunny.map((k) => k.key)).toEqual(enc.map((k) => k.key));

    await waitForAttrAtLeast('#client-keys tr[data-client="carol"] [data-issued]', "data-issued", issuedBefore + 3);
    await waitForAttrAtLeast('#client-keys tr[data-client="curtis"] [data-delivered]', "data-delivered", deliveredBefore + 3);
    await waitForAttrAtLeast(pairRow, "data-issued", pairIssuedBefore + 3);
    await waitForAttrAtLeast(pairRow, "data-delivered", pairDeliveredBefore + 3);
    expect(await page.locator(`${pairRow} td`).nth(0).textContent()).toBe("sam");
    expect(await page.locator(`${pairRow} td`).nth(2).textContent()).toBe("sunny");
    // The pair's sparkline has its scale.
    await expect(page.locator(`${pairRow} .spark .spark-max`).textContent()).resolves.toMatch(/keys\/s$/);
    // One source for every panel: the header, the clients and the pairs agree.
    await figuresWhen("header, clients and pairs agree", agree);
  });

  it("a restarted client keeps its counts and is shown restarted; header, clients and pairs still agree", async () => {
    const before = await figuresWhen("figures before the restart", (f) => agree(f) && "sam|sunny" in f.pairs);
    expect((await t.cli("--client", "carol", "stop")).code).toBe(0);
    await page.waitForSelector('svg [data-node="client:carol"][data-state="down"]', { timeout: 20_000 });
    // While carol is down its counts stay in the totals.
    const whileDown = await figuresWhen("figures while carol is down", agree);
    expect(whileDown.header.issued).toBe(before.header.issued);
    expect((await t.cli("--client", "carol", "start")).code).toBe(0);
    await page.waitForSelector('svg [data-node="client:carol"][data-state="up"][data-restarts="1"]', { timeout: 20_000 });
    await expect(page.locator('#client-keys tr[data-client="carol"] .restart').textContent()).resolves.toMatch(/^restarted at /);
    expect(await page.getAttribute('#client-keys tr[data-client="carol"]', "data-restarts")).toBe("1");
    expect(await page.locator('svg [data-node="client:carol"] .restarted').count()).toBe(1);

    const { enc, dec } = await keyPair(t, "sam", "sunny", { number: 2 });
    expect(dec.sunny.map((k) => k.key)).toEqual(enc.map((k) => k.key));
    const after = await figuresWhen(
      "the new keys counted on top of the old ones",
      // (one poll round may see the enc_keys on carol but not yet the dec_keys on curtis)
      (f) =>
        agree(f) &&
        f.pairs["sam|sunny"].issued >= before.pairs["sam|sunny"].issued + 2 &&
        f.pairs["sam|sunny"].delivered >= before.pairs["sam|sunny"].delivered + 2,
    );
    // carol's count went on from where it was (its new process counts from 0)
    expect(after.clients.carol.issued).toBe(before.clients.carol.issued + 2);
    expect(after.pairs["sam|sunny"]).toEqual({
      issued: before.pairs["sam|sunny"].issued + 2,
      delivered: before.pairs["sam|sunny"].delivered + 2,
    });
    expect(after.header.issued).toBe(before.header.issued + 2);
    // Nobody else restarted.
    expect(await page.locator('svg [data-node][data-restarts="1"]').count()).toBe(1);
    // The hubs' start times come from their metrics too.
    await expect(page.locator('svg [data-node="hub:hank"] > title').textContent()).resolves.toMatch(/; started /);
  });

  it("a stopped hub is shown down (topology, pools table, node count)", async () => {
    const r = await t.cli("--hub", "hugo", "stop");
    expect(r.code).toBe(0);
    await page.waitForSelector('svg [data-node="hub:hugo"][data-state="down"]', { timeout: 20_000 });
    await expect(page.locator('svg [data-node="hub:hugo"] .state').textContent()).resolves.toBe("DOWN");
    await expect(page.locator("#nodes-up").textContent()).resolves.toBe("9/10");
    expect(await page.locator('svg line[data-link="carol|hugo"]').getAttribute("data-level")).toBe("down");
    expect(await page.locator('svg [data-node="hub:hank"]').getAttribute("data-state")).toBe("up");

    const shot = path.join(tmpdir(), `dske-dashboard-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    process.stdout.write(`dashboard screenshot: ${shot}\n`);
  });

  it("without its session nothing is served, and the login link works only once", async () => {
    const base = `http://127.0.0.1:${DASHBOARD_PORT}`;
    for (const p of ["/", "/api/snapshot", "/api/events", "/dashboard.js"]) {
      const r = await t.http.get(`${base}${p}`, { timeout: 5000 });
      expect([p, r.status]).toEqual([p, 401]);
      expect(JSON.stringify(r.data)).not.toMatch(/sam|sunny|hank/);
    }
    // The browser used the link already: replayed (e.g. from the shell history) it opens nothing.
    const replay = await t.http.get(loginUrl, { maxRedirects: 0, timeout: 5000 });
    expect(replay.status).toBe(401);
    // The logged-in page still works.
    await expect(page.locator("#nodes-up").textContent()).resolves.toMatch(/^\d+\/10$/);
  });

  it("the dashboard stops on SIGTERM with a message", async () => {
    const running = defined(dashboard, "the dashboard process");
    const exited = new Promise<number | null>((resolve) => running.once("exit", (code) => resolve(code)));
    running.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(dashboardOut).toContain("dashboard stopped (SIGTERM)");
  });
});
