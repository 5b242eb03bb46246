/**
 * Registration with one hub. The first PSRD bundle from a hub (bundle-installer.ts) makes the
 * client known to it; registration is then a signed in-band message (`registerSigned`) proposing
 * the auth scheme of the bundles and the `ack` extension. It runs in the background with capped
 * exponential backoff, forever, while the hub is down, and again on a 401 from a signed call
 * (the hub lost our registration) or on demand. Installed hub-owned blocks are confirmed to the
 * hub (it uses them only after that) under the chain lock, which serializes bundle installs,
 * confirmations and operator resets of this hub's PSRD. A reference hub (reference-hub.ts) has
 * no bundles: it is registered unauthenticated, and each registration starts our pools over.
 */
import { ACK_EXTENSION, HubApiError } from "@dske/protocol";
import type { AuthSchemeName } from "@dske/auth";
import { backoffDelay } from "./backoff.js";
import { HubFailure, sleep, type HubLink, type HubLinkOptions } from "./hub-link.js";
import { probeReplicas } from "./hub-probe.js";
import type { Logger } from "./logger.js";
import type { NodeState } from "./node-state.js";
import type { HubNeeds } from "./psrd-needs.js";
import type { Replenishment } from "./replenishment.js";
import { registerWithReferenceHub } from "./reference-hub.js";

export interface RegistrationDeps {
  link: HubLink;
  psrd: Replenishment;
  needs: HubNeeds;
  state: NodeState;
  logger: Logger;
  clientName: string;
  encryptors: readonly string[];
  options: HubLinkOptions;
  /** Usable bytes per pool asked for in the first bundle. */
  initialPsrdBytes: number;
}

export class Registration {
  private started = false;
  private registering: Promise<void> | undefined;
  /** Serializes bundle installs and confirmations with this hub. */
  private chainLock: Promise<unknown> = Promise.resolve();
  /** The first bundle from this hub is not installed yet. */
  awaitingFirstBundle = false;

  constructor(private readonly d: RegistrationDeps) {}

  /** Start: ask for the first bundle if there is none yet, and register in the background. */
  start(): void {
    this.started = true;
    // A reference hub issues no bundles: its PSRD comes by GET psrd after registration (reference-hub.ts).
    if (!this.d.link.reference && !this.d.state.chain(this.d.link.name)) this.askForFirstBundle();
    this.ensureRegistering();
  }

  /** This hub's bundle chain record (undefined before the first bundle). */
  chain(): ReturnType<NodeState["chain"]> {
    return this.d.state.chain(this.d.link.name);
  }

  /** Wait for a registration in flight (stop). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.registering ? [this.registering] : []);
  }

  /** Not registered yet, but the first registration attempt has not failed either (startup), or the first bundle is on its way. */
  get pending(): boolean {
    const { link } = this.d;
    return this.started && !link.registered && !link.stopped && (link.lastError === undefined || this.awaitingFirstBundle);
  }

  /** Wait until registered (or throw after timeoutMs). */
  async whenRegistered(timeoutMs = 60_000): Promise<void> {
    const { link } = this.d;
    const until = Date.now() + timeoutMs;
    while (!link.registered) {
      if (link.stopped) throw new HubFailure(link.name, "stopped");
      if (Date.now() > until) throw new HubFailure(link.name, `not registered: ${link.lastError ?? "pending"}`);
      this.ensureRegistering();
      await sleep(20);
    }
  }

  /** (Re-)register in the background unless already doing so. */
  ensureRegistering(): void {
    if (this.registering || this.d.link.stopped) return;
    this.registering = this.registerLoop().finally(() => {
      this.registering = undefined;
    });
  }

  /** Forget the registration (e.g. the hub said 401) and register again in the background. */
  requireReregistration(reason: string): void {
    const { link } = this.d;
    if (link.stopped) return;
    if (link.registered) this.d.logger.warn("re-registering with hub", { hub: link.name, reason });
    link.registered = false;
    this.ensureRegistering();
  }

  private async registerLoop(): Promise<void> {
    const { link, logger, options } = this.d;
    const initial = options.retryInitialMs ?? 200;
    const max = options.retryMaxMs ?? 5000;
    let attempts = 0;
    while (!link.stopped) {
      const seq = ++this.attemptSeq;
      this.wakeRequested = false;
      try {
        await this.registerOnce();
        return;
      } catch (err) {
        // Abandoned by a probe that found the hub reachable: no failure, a new attempt at once.
        if (err instanceof AttemptSuperseded) continue;
        attempts++;
        link.noteFailure(err);
        if (this.awaitingFirstBundle) {
          // Nothing to retry before the first bundle arrives: its install restarts registration.
          logger.info("waiting for the first PSRD bundle of hub", { hub: link.name, reason: link.lastError });
          return;
        }
        if (attempts === 1 || attempts % 10 === 0) {
          logger.warn("registration with hub failed; retrying", { hub: link.name, attempt: attempts, err: link.lastError });
        }
        this.attemptEnded(seq);
        // A probe found the hub reachable during this attempt: try again at once.
        if (this.skipSleep()) continue;
        this.wake = new AbortController();
        await sleep(backoffDelay(attempts - 1, initial, max), AbortSignal.any([link.abort.signal, this.wake.signal]));
        this.wake = undefined;
      } finally {
        this.attemptEnded(seq);
      }
    }
  }

  /** Registration attempts started so far (a probe waits for one started after it). */
  private attemptSeq = 0;
  /** Aborted to end the backoff sleep early (a probe found the hub reachable). */
  private wake: AbortController | undefined;
  private wakeRequested = false;
  private attemptWaiters: { after: number; resolve: () => void }[] = [];
  private probing: Promise<void> | undefined;
  /** Ends the unsigned reachability check of the attempt in flight (no PSRD spent yet). */
  private abandonHealthCheck: ((err: Error) => void) | undefined;

  /** A probe asked for an attempt now, or we stopped (both change while an attempt awaits). */
  private skipSleep(): boolean {
    return this.wakeRequested || this.d.link.stopped;
  }

  /** Not registered (read afresh: it changes while a probe awaits). */
  private heldDown(): boolean {
    return !this.d.link.registered;
  }

  private attemptEnded(seq: number): void {
    const due = this.attemptWaiters.filter((w) => seq > w.after);
    if (due.length === 0) return;
    this.attemptWaiters = this.attemptWaiters.filter((w) => seq <= w.after);
    for (const w of due) w.resolve();
  }

  /**
   * A request needs this hub but we hold it for down (not registered): find out now instead of
   * waiting for the backoff timer. Probe the hub (one TCP connection, no PSRD; hub-probe.ts); if it
   * is reachable, register at once and wait for that attempt. Bounded by the connect timeout;
   * concurrent callers share one probe. Afterwards `lastError` says why the hub is down now.
   */
  probe(): Promise<void> {
    const { link } = this.d;
    if (link.registered || link.stopped || this.awaitingFirstBundle || !this.started) return Promise.resolve();
    this.probing ??= this.runProbe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async runProbe(): Promise<void> {
    const { link } = this.d;
    const deadline = Date.now() + link.connectTimeoutMs;
    const found = await probeReplicas(link.urls, link.connectTimeoutMs);
    if (link.registered || link.stopped) return;
    if (!found.reachable) {
      link.noteFailure(new HubFailure(link.name, found.reason));
      return;
    }
    // Reachable: an attempt starting after this one (now, or right after the one in flight).
    const attempted = new Promise<void>((resolve) => this.attemptWaiters.push({ after: this.attemptSeq, resolve }));
    this.wakeRequested = true;
    this.wake?.abort();
    this.abandonHealthCheck?.(new AttemptSuperseded());
    this.ensureRegistering();
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      attempted.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    // Still no answer: say so (the reason of the last failed attempt, e.g. "connection refused", is no longer true).
    if (!answered && this.heldDown()) {
      link.noteFailure(new HubFailure(link.name, `accepts connections, but no answer to registration within ${link.connectTimeoutMs} ms`));
    }
  }

  private async registerOnce(): Promise<void> {
    const { link, state, options, clientName } = this.d;
    if (link.reference) {
      await registerWithReferenceHub({ ...this.d, withChainLock: (fn) => this.withChainLock(fn) });
      return;
    }
    const chain = state.chain(link.name);
    if (!chain) {
      this.awaitingFirstBundle = true;
      throw new HubFailure(
        link.name,
        `no PSRD from hub ${link.name} yet: waiting for its first PSRD bundle (the local distributor delivers it; ` +
          `by hand: dske-cli psrd issue ${link.name} ${clientName}, then dske-cli psrd install ${clientName} FILE)`,
      );
    }
    this.awaitingFirstBundle = false;
    const proposed = options.authScheme ?? "gf128";
    const scheme = chain.auth_scheme;
    if ((options.requireAuthScheme ?? true) && scheme !== proposed) {
      throw new HubFailure(link.name, `hub ${link.name} issued PSRD for auth scheme ${scheme}, but this client requires ${proposed}`);
    }
    // Spend no PSRD (confirmation, signed registration) on a hub not reached since start or since
    // its connection was lost: an unsigned probe first fails on a refused TLS certificate or a
    // closed port without a pad leaving the pools.
    if (link.lastOkAt === 0) {
      // Unsigned, so a probe that finds the hub reachable meanwhile may abandon it (`runProbe`):
      // a check begun during a partition can hang until its connect timeout after the heal.
      await new Promise<void>((resolve, reject) => {
        this.abandonHealthCheck = reject;
        link.api.health().then(() => resolve(), reject);
      }).finally(() => {
        this.abandonHealthCheck = undefined;
      });
    }
    // Under the chain lock: never while an install or an operator's PSRD reset is at work.
    await this.withChainLock(() => this.d.psrd.attach(scheme));
    await this.confirmInstalled();
    // Signed with PSRD of our bundles: the hub knows it is us, and we know it is the hub.
    const res = await link.api.registerSigned({
      client_name: clientName,
      encryptor_names: [...this.d.encryptors],
      auth_scheme: scheme,
      ...(options.ackExtension === false ? {} : { extensions: [ACK_EXTENSION] }),
    });
    const chosen = (res.auth_scheme ?? "hmac-sha256") as AuthSchemeName;
    if (chosen !== scheme) {
      throw new HubFailure(res.hub_name, `hub answered auth scheme ${JSON.stringify(chosen)}, but its PSRD bundles are for ${scheme}`);
    }
    if (res.hub_name !== link.name) {
      throw new HubFailure(
        link.name,
        `hub at ${link.url} calls itself ${JSON.stringify(res.hub_name)}, but its bundles are from ${link.name}`,
      );
    }
    await state.setHub(link.url, { hub_name: res.hub_name, auth_scheme: scheme, extensions: res.extensions ?? [] });
    link.extensions = new Set(res.extensions ?? []);
    this.d.psrd.peerInFlight = 0;
    link.registered = true;
    link.noteOk();
    this.d.logger.info("registered with hub", { hub: link.name, scheme, extensions: [...link.extensions] });
    this.d.psrd.maybeReplenishBoth();
  }

  /** Run `fn` exclusively with other installs and confirmations of this hub's bundles. */
  withChainLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chainLock.then(fn, fn);
    this.chainLock = run.catch(() => undefined);
    return run;
  }

  /** Tell the hub (signed) which installed hub-owned blocks we have: it uses them only after this. */
  private confirmInstalled(): Promise<void> {
    const { link, state, clientName } = this.d;
    return this.withChainLock(async () => {
      const chain = state.chain(link.name);
      if (!chain || chain.unconfirmed.length === 0 || !this.d.psrd.peerAuth) return;
      const uuids = [...chain.unconfirmed];
      for (let i = 0; i < uuids.length; i += 4096) {
        await link.api.confirmPsrd({ client_name: clientName, block_uuids: uuids.slice(i, i + 4096) });
      }
      const now = state.chain(link.name);
      if (now) await state.setChain(link.name, { ...now, unconfirmed: now.unconfirmed.filter((u) => !uuids.includes(u)) });
    });
  }

  /**
   * A bundle from this hub was installed (bundle-installer.ts): confirm its hub-owned blocks (now
   * if we can sign, else at registration), register if this was the first, wake waiters.
   */
  onBundleInstalled(bytes: { local: number; peer: number }): void {
    const { link, needs } = this.d;
    needs.installed("local", bytes.local);
    needs.installed("peer", bytes.peer);
    if (link.stopped) return;
    if (this.d.psrd.peerAuth) {
      this.confirmInstalled().catch((err: unknown) => {
        link.noteFailure(err);
        this.d.logger.warn("confirming installed PSRD failed; retrying at the next install or registration", {
          hub: link.name,
          err: link.lastError,
        });
        // Not for a verified answer with an unexpected body: that hub knows us (HubLink.suggestsReregistration).
        if (!(err instanceof HubApiError && err.authenticated)) this.requireReregistration("PSRD confirmation failed");
      });
    }
    if (!link.registered) {
      this.awaitingFirstBundle = false;
      this.ensureRegistering();
    }
  }

  /** Unregister (explicit operator action): the hub deletes our pools and shares; so do we. */
  async unregister(): Promise<void> {
    const { link, state } = this.d;
    // A reference hub has no unregistration: we forget our side only.
    if (!link.reference) await link.api.unregisterSigned(this.d.clientName);
    link.registered = false;
    await this.d.psrd.detach();
    await this.d.psrd.deletePools();
    await state.setHub(link.url, undefined);
    await state.setChain(link.name, undefined);
  }

  /**
   * Forget our PSRD with this hub (operator action, e.g. the hub lost its state): zero and delete
   * our two pools and the bundle chain; the hub's local distributor then delivers a new first
   * bundle (the client states its initial need) and we register again. Never automatic: a hub
   * that answers "unknown client" could be an impostor, so only the operator decides.
   */
  async resetPsrd(): Promise<void> {
    const { link, state } = this.d;
    await this.withChainLock(async () => {
      link.registered = false;
      await this.d.psrd.detach();
      link.scheme = undefined;
      await this.d.psrd.deletePools();
      await state.setHub(link.url, undefined);
      await state.setChain(link.name, undefined);
    });
    if (link.reference) {
      // Registering again makes the reference hub reset its side too; fresh PSRD follows by GET psrd.
      this.d.logger.warn("PSRD reset by the operator; registering again with this reference hub", { hub: link.name });
      this.ensureRegistering();
      return;
    }
    this.d.logger.warn("PSRD reset by the operator; waiting for a new first bundle", { hub: link.name });
    this.askForFirstBundle();
  }

  /** No bundle from this hub (yet, or no longer): state the first bundle's need for both pools. */
  private askForFirstBundle(): void {
    this.awaitingFirstBundle = true;
    this.d.needs.request("local", this.d.initialPsrdBytes);
    this.d.needs.request("peer", this.d.initialPsrdBytes);
  }
}

/** A registration attempt abandoned before it signed anything, because a probe found the hub reachable. */
class AttemptSuperseded extends Error {
  override readonly name = "AttemptSuperseded";
}
