/**
 * The one poller of the tests: calls `check` until it stops throwing and returns what it
 * returned, or throws its last error after `timeoutMs`. For what the hub does in real time (I/O,
 * the database); a hub timer is not waited for but fired with a manual clock (manual-clock.ts).
 */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
