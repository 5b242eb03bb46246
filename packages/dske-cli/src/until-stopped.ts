/** Resolves on SIGINT/SIGTERM or when `signal` aborts (the reason); removes its listeners afterwards. */
export function untilStopped(signal?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      signal?.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const onInt = () => done("SIGINT");
    const onTerm = () => done("SIGTERM");
    const onAbort = () => done("stop requested");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    if (signal?.aborted) done("stop requested");
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
