/** Waiting on a condition with a deadline (never a fixed sleep), for the netns tests and the relay test. */

/** A thrown value as text. */
function text(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Poll `check` until it returns true; throw after `ms` naming `what` and the last error. */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 20_000, every = 100): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last === undefined ? "" : `: ${text(last)}`}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
