// The options of starting the server, shared by `npm start` (main.ts) and `rs-server start`
// (cli/index.ts), so that both take the same ones; light on purpose (no server code), as the
// CLI builds its whole command tree on every run.
import { readFileSync } from "node:fs";
import type { Command } from "commander";

export const PACKAGE_VERSION: string = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
).version;

export interface StartOptions {
  config?: string;
  dataDir?: string;
  admin: boolean;
  broker: boolean;
  workers: boolean;
}

export function addStartOptions(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "configuration file (YAML or JSON; env RS_SERVER_CONFIG)")
    .option("-d, --data-dir <dir>", "data directory for the embedded defaults (default ./.data)")
    .option("--no-admin", "do not serve the admin API")
    .option("--no-broker", "do not serve the broker API")
    .option("--no-workers", "do not run background workers");
}

/** The configuration overrides the command line makes (highest precedence). */
export function startOverrides(opts: StartOptions): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  if (opts.dataDir) overrides.dataDir = opts.dataDir;
  if (opts.admin === false) overrides.admin = { enabled: false };
  if (opts.broker === false) overrides.broker = { enabled: false };
  if (opts.workers === false) overrides.workers = { enabled: false };
  return overrides;
}

/**
 * Misuse (an unknown option or command, a missing value, an extra argument) exits 2 after
 * commander's error line and the command's usage line; help and --version exit 0.
 */
export function exitOnMisuse(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    if (err.exitCode === 0) process.exit(0);
    process.stderr.write(`Usage: ${commandPath(cmd)} ${cmd.usage()}\n`);
    process.exit(2);
  });
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}
