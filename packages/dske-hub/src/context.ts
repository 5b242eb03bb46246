/**
 * HubContext: what every part of the hub shares (its name, clock, logger, and whether it is
 * closed). The Hub facade (hub.ts) builds one and hands it to each part with that part's other
 * dependencies.
 */
import type { Logger } from "@dske/protocol";
import { HubError } from "./errors.js";

export class HubContext {
  /** Set by Hub.close(); every part refuses new work from then on. */
  closed = false;

  constructor(
    readonly name: string,
    readonly now: () => number,
    readonly logger: Logger,
  ) {}

  assertOpen(): void {
    if (this.closed) throw new HubError("unavailable", `hub ${this.name} is stopping`);
  }
}
