/**
 * Reading a node's Prometheus text exposition (`GET /metrics`) for the dashboard: a small,
 * tolerant parser of the text format (version 0.0.4) and the per-SAE-pair key counters in it.
 * Lines that do not parse are ignored: the dashboard must keep working across node versions.
 */

export interface MetricSample {
  readonly name: string;
  /** Absent labels read as undefined. */
  readonly labels: Readonly<Partial<Record<string, string>>>;
  readonly value: number;
}

const SAMPLE_RE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL_RE = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescapeLabel(v: string): string {
  return v.replace(/\\(["\\n])/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

function parseLabels(s: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  LABEL_RE.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    LABEL_RE.lastIndex = pos;
    const m = LABEL_RE.exec(s);
    if (m === null) return s.slice(pos).trim() === "" ? labels : undefined;
    labels[m[1]] = unescapeLabel(m[2]);
    pos = LABEL_RE.lastIndex;
  }
  return labels;
}

function parseValue(s: string): number | undefined {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  const n = Number(s);
  return Number.isNaN(n) ? undefined : n;
}

/** Every sample of a text exposition (comments and malformed lines skipped). */
export function parsePrometheusText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE_RE.exec(line);
    if (m === null) continue;
    const labelText = m.at(2); // the `{...}` group is optional
    const labels = labelText === undefined ? {} : parseLabels(labelText);
    const value = parseValue(m[3]);
    if (labels === undefined || value === undefined) continue;
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** Keys established for one (master SAE, slave SAE) pair as one node counts them. */
export interface PairCount {
  readonly master: string;
  readonly slave: string;
  /** Keys handed to the master SAE (enc_keys; counted by the master's KME). */
  readonly issued: number;
  /** Keys handed to the slave SAE (dec_keys; counted by the slave's KME). */
  readonly delivered: number;
}

/**
 * Every metric name the dashboard reads, in one place. Each entry lists the accepted names (the
 * current one first): a renamed metric is added here, and the dashboard keeps reading nodes of
 * both versions.
 */
export const METRIC_NAMES = {
  /** @dske/client: keys handed to a master SAE (enc_keys), per SAE pair (client-metrics.ts). */
  established: ["dske_keys_established_total"],
  /** @dske/client: keys handed to a slave SAE (dec_keys), per SAE pair (client-metrics.ts). */
  delivered: ["dske_keys_delivered_total"],
  /** prom-client's process start time (unix seconds), served by every standalone node. */
  processStart: ["process_start_time_seconds", "dske_process_start_time_seconds"],
} as const satisfies Record<string, readonly string[]>;

/** The current names (kept for readers of the earlier constants). */
export const ESTABLISHED_METRIC = METRIC_NAMES.established[0];
export const DELIVERED_METRIC = METRIC_NAMES.delivered[0];

const isOneOf = (names: readonly string[], name: string): boolean => names.includes(name);

/**
 * Keys per SAE pair from @dske/client's counters (labels `master_sae`, `slave_sae`): the
 * established counter (on the master SAE's KME when enc_keys hands keys out → issued) and the
 * delivered counter (on the slave SAE's KME when dec_keys hands them out → delivered). An
 * established sample with `role="slave"` (an earlier form of the counter) also counts as
 * delivered. Summed per pair; other samples are ignored.
 */
export function pairKeyCounts(samples: readonly MetricSample[]): PairCount[] {
  const sums = new Map<string, { master: string; slave: string; issued: number; delivered: number }>();
  for (const s of samples) {
    const established = isOneOf(METRIC_NAMES.established, s.name);
    const delivered = isOneOf(METRIC_NAMES.delivered, s.name);
    if (!established && !delivered) continue;
    if (!Number.isFinite(s.value)) continue;
    const master = s.labels.master_sae;
    const slave = s.labels.slave_sae;
    if (master === undefined || slave === undefined) continue;
    const k = `${master}\u0000${slave}`;
    let p = sums.get(k);
    if (p === undefined) {
      p = { master, slave, issued: 0, delivered: 0 };
      sums.set(k, p);
    }
    const role = s.labels.role;
    if (delivered || role === "slave") p.delivered += s.value;
    else if (role === undefined || role === "master") p.issued += s.value;
  }
  return [...sums.values()];
}

/** The node process's start time (ms since the epoch) from its metrics, if it serves one. */
export function processStartMs(samples: readonly MetricSample[]): number | undefined {
  const s = samples.find((x) => isOneOf(METRIC_NAMES.processStart, x.name) && Number.isFinite(x.value) && x.value > 0);
  return s === undefined ? undefined : s.value * 1000;
}
