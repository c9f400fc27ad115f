// The simulator's state file: written atomically (temp file + rename) and readable only by
// its owner, since it holds the seeded passwords.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const STATE_FILE = "simulator.json";

export function statePath(dataDir: string) {
  return join(dataDir, STATE_FILE);
}

export function loadState<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export function saveState(path: string, text: string) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
