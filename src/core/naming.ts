// Instance names (docs/admin-api.md#post-servers--create): each run of `*` in a pool's pattern is the pool's counter,
// zero-padded to the run's length and growing past it (`trs-**`: trs-01 … trs-99, trs-100);
// a pattern without `*` gets `-N` appended. An explicit name for a batch becomes name-1..name-N.

export const MAX_INSTANCE_NAME = 245;

export function nameFromPattern(pattern: string, counter: number): string {
  const digits = String(counter);
  if (!pattern.includes("*")) return `${pattern}-${digits}`;
  return pattern.replace(/\*+/g, (run) => digits.padStart(run.length, "0"));
}

/** Names for `count` instances whose counters start at `first`. */
export function namesFromPattern(pattern: string, first: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => nameFromPattern(pattern, first + i));
}

/** Names for an explicit name: itself for one instance, name-1..name-N for a batch. */
export function explicitNames(name: string, count: number): string[] {
  if (count === 1) return [name];
  return Array.from({ length: count }, (_, i) => `${name}-${i + 1}`);
}

/** Why a pattern cannot make valid names, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.trim() === "") return "instance_name_pattern must not be empty";
  if (nameFromPattern(pattern, 1).length > MAX_INSTANCE_NAME) {
    return `instance_name_pattern makes names longer than ${MAX_INSTANCE_NAME} characters`;
  }
  return undefined;
}

/**
 * The name to give Nova for a batch. Nova calls a batch's members `<name>-1..N`; when the names
 * we want are exactly that (an explicit name, or a pattern like `desk-*` counting from 1), no
 * server needs a rename afterwards.
 */
export function batchName(names: string[]): string {
  const base = /^(.+)-1$/.exec(names[0])?.[1];
  if (base !== undefined && names.every((n, i) => n === `${base}-${i + 1}`)) return base;
  return names[0];
}

/**
 * The name each server of a batch should carry: the n-th name for the server Nova numbered n
 * (`<batch name>-n`), so a server Nova already named right keeps its name; servers whose Nova
 * name has no such number take the names left, in order.
 */
export function namesForBatch(
  batch: string,
  servers: { id: string; name: string }[],
  names: string[],
): Map<string, string> {
  const wanted = new Map<string, string>();
  const left = new Set(names.keys());
  const unnumbered: string[] = [];
  for (const s of servers) {
    const n = s.name.startsWith(`${batch}-`) ? Number(s.name.slice(batch.length + 1)) : Number.NaN;
    if (Number.isInteger(n) && left.has(n - 1)) {
      wanted.set(s.id, names[n - 1]);
      left.delete(n - 1);
    } else unnumbered.push(s.id);
  }
  const rest = [...left];
  for (const [i, id] of unnumbered.entries()) wanted.set(id, names[rest[i] ?? 0]);
  return wanted;
}
