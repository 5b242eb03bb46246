/**
 * TEST-ONLY: make a hub answer like the reference implementation's hub (dske-python), to test
 * that our clients get along with one (issue 14). Installed by the test server (faults.ts, fault
 * `reference_hub`) and by in-process tests; never by the `dske-hub` binary. While `active()`:
 *
 * - POST key-share answers a signed `null` body (the reference's handler returns nothing;
 *   "Successful response body: None" in its protocol guide), instead of `{}`.
 * - The registration answer carries no `extensions` (the reference has neither `batch` nor
 *   `ack`), so a client posts and fetches one share per message, as with the reference.
 * - A client that registers again (a second registration PUT answered 200 through this
 *   middleware) has its pools reset once the answer is out, as the reference hub does for a
 *   re-registering client: the hub forgets the client's PSRD blocks (and its shares) and
 *   registers it anew with empty pools, without telling it. A client that then keeps its old
 *   blocks fails on every later message ("Invalid PSRD block UUID" at the reference).
 *
 * The middleware must be mounted before the hub router: it wraps `res.json`, which the router's
 * handlers call before the signature middleware signs the bytes, so the answers stay validly signed.
 */
import type { NextFunction, Request, Response } from "express";
import { ACK_EXTENSION, type LogFields } from "@dske/protocol";
import type { Hub } from "../hub.js";

export interface ReferenceHubEmulation {
  (req: Request, res: Response, next: NextFunction): void;
  /** Clients whose pools were reset because they registered again (in order). */
  readonly resets: readonly string[];
}

/** The middleware (see the module comment); `log` gets one line per pool reset. */
export function referenceHubEmulation(
  hub: Hub,
  active: () => boolean,
  log: (message: string, fields?: LogFields) => void,
): ReferenceHubEmulation {
  const prefix = `/hub/${encodeURIComponent(hub.name)}`;
  /** Clients that registered through this middleware at least once. */
  const registered = new Set<string>();
  const resets: string[] = [];

  const reset = async (clientName: string): Promise<void> => {
    const client = hub.client(clientName);
    if (client === undefined) return;
    const again = {
      client_name: client.name,
      encryptor_names: client.encryptorNames,
      auth_scheme: client.authScheme,
      ...(client.ack ? { extensions: [ACK_EXTENSION] } : {}),
    };
    await hub.unregister(clientName);
    await hub.register(again);
    resets.push(clientName);
    log("TEST reference_hub: client registered again: its pools were reset (as the reference hub does)", { client: clientName });
  };

  const middleware = ((req: Request, res: Response, next: NextFunction): void => {
    if (!active()) {
      next();
      return;
    }
    const json = res.json.bind(res);
    if (req.method === "POST" && req.path === `${prefix}/dske/api/v1/key-share`) {
      res.json = (body: unknown) => json(res.statusCode >= 200 && res.statusCode < 300 ? null : body);
    } else if (req.method === "PUT" && req.path === `${prefix}/dske/oob/v1/registration`) {
      res.json = (body: unknown) => {
        if (res.statusCode !== 200 || typeof body !== "object" || body === null) return json(body);
        // The router's signature middleware parsed the (verified) request body into req.body.
        const name = (req.body as { client_name?: unknown } | undefined)?.client_name;
        if (typeof name === "string") {
          if (registered.has(name)) {
            res.on("finish", () => {
              reset(name).catch((err: unknown) => log("TEST reference_hub: reset failed", { client: name, err: String(err) }));
            });
          }
          registered.add(name);
        }
        const rest: Record<string, unknown> = { ...(body as Record<string, unknown>) };
        delete rest.extensions;
        return json(rest);
      };
    }
    next();
  }) as ReferenceHubEmulation;
  Object.defineProperty(middleware, "resets", { get: () => resets });
  return middleware;
}
