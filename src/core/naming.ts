// Instance names (spec §4): each run of `*` in a pool's pattern is the pool's counter,
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
