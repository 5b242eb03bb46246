/**
 * The YAML of a system-test topology (dske-config.yaml syntax): hubs and clients, optionally
 * marked `implementation: reference`, and top-level settings.
 */

export interface TopologyNode {
  readonly name: string;
  /** Clients only: the SAE IDs attached. */
  readonly encryptors?: readonly string[];
  /** `reference`: a node of the reference implementation (dske-cli neither starts nor stops it). */
  readonly implementation?: "reference";
}

export function topologyYaml(spec: {
  readonly settings: Readonly<Record<string, string | number | readonly string[]>>;
  readonly hubs: readonly TopologyNode[];
  readonly clients: readonly TopologyNode[];
}): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(spec.settings)) {
    if (typeof value === "string" || typeof value === "number") lines.push(`${key}: ${value}`);
    else lines.push(`${key}:`, ...value.map((v) => `  - ${v}`));
  }
  const node = (n: TopologyNode): string[] => [
    `  - name: ${n.name}`,
    ...(n.implementation ? [`    implementation: ${n.implementation}`] : []),
    ...(n.encryptors ? ["    encryptors:", ...n.encryptors.map((e) => `      - name: ${e}`)] : []),
  ];
  lines.push("hubs:", ...spec.hubs.flatMap(node), "clients:", ...spec.clients.flatMap(node));
  return `${lines.join("\n")}\n`;
}
