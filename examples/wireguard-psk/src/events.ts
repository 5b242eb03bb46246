/**
 * What the agent reports: one JSON object per line on stdout (jq reads it). Key IDs are not
 * secret and are printed; key bytes never are.
 */
export type AgentEvent =
  | { event: "listening"; role: "slave"; address: string }
  | { event: "started"; role: "master"; interval_s: number; rehandshake: boolean }
  | { event: "rotated"; role: "master" | "slave"; rotation: number; key_ID: string }
  | { event: "error"; role: "master" | "slave"; message: string }
  | { event: "stopped"; role: "master" | "slave" };

export function report(e: AgentEvent): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
}
