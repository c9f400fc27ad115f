// Runs work over many items with at most `limit` calls in flight: a thousand renames must not
// reach Nova as a thousand simultaneous requests.

export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}

/**
 * At most `limit()` holders at once in this process; a caller beyond it waits its turn (in
 * order) for at most `waitMs`, then gets false. The limit is read at each acquire, so a
 * changed configuration applies to the next caller.
 */
export class Slots {
  private busy = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: () => number) {}

  /** Runs `work` in a slot; answers undefined (without running it) when none freed within `waitMs`. */
  async run<T>(waitMs: number, work: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (!(await this.acquire(waitMs))) return undefined;
    try {
      return { value: await work() };
    } finally {
      this.release();
    }
  }

  private acquire(waitMs: number): Promise<boolean> {
    if (this.busy < this.limit() && this.waiting.length === 0) {
      this.busy++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const turn = () => {
        clearTimeout(timer);
        this.busy++;
        resolve(true);
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(turn);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      }, waitMs);
      this.waiting.push(turn);
    });
  }

  private release(): void {
    this.busy--;
    while (this.busy < this.limit() && this.waiting.length > 0) this.waiting.shift()!();
  }
}
