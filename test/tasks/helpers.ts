// Shared by the task tests: a silent logger and a bounded wait for a database condition.
import pino from "pino";

export const silent = pino({ level: "silent" });

/** Polls `probe` until it returns a value; the deadline only keeps a broken test from hanging. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  deadlineMs = 30_000,
) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value) return value as T;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
export function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
