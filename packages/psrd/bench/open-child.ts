/**
 * Bench child: open a store and one pool in a fresh process, allocate once, report open time and
 * RSS as JSON on stdout. Args: <store dir> <pool name>
 */
import { FileStore } from "../src/index.js";

const [dir, name] = process.argv.slice(2);
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const store = await FileStore.open(dir);
const storeOpenMs = performance.now() - t0;
const pool = await store.openPool(name, "local");
const openMs = performance.now() - t0;
const rssOpen = process.memoryUsage().rss;
const { data } = await pool.allocate(32, "bench open");
data.fill(0);
const rssAfterAlloc = process.memoryUsage().rss;
const stats = pool.stats();
await store.close();
process.stdout.write(JSON.stringify({ openMs, storeOpenMs, rssBefore, rssOpen, rssAfterAlloc, poolSize: stats.size }) + "\n");
