// `npm start`: rs-server on its embedded defaults (or the given configuration), printing
// where everything is and the generated credentials of the built-in cloud.
import { constants } from "node:os";
import { Command } from "commander";
import type { Logger } from "pino";
import { banner } from "./banner.ts";
import { loadConfig } from "./config/load.ts";
import { createLogger } from "./logging.ts";
import { type Runtime, startRuntime, VERSION } from "./runtime.ts";
import {
  addStartOptions,
  exitOnMisuse,
  PACKAGE_VERSION,
  type StartOptions,
  startOverrides,
} from "./start-options.ts";

/** SIGHUP too: the terminal being gone is a stop. */
const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
/** Signals this close to the first are its echo through a launcher, not an operator's second. */
const ECHO_WINDOW_MS = 1000;

/**
 * The first stop signal stops the server in order (runtime.stop) and exits 0, or 1 when a
 * part failed to stop; one during the start stops it once it is up. A second signal (a second
 * after the first or later) exits at once (PostgreSQL is then asked to stop on the way out,
 * and its watchdog sees to it: store/embedded.ts).
 */
function stopOnSignals(started: Promise<Runtime>, logger: Logger): void {
  let stopping = false;
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // Ctrl-C reaches this process twice at once: from the terminal (the whole foreground
      // group) and relayed by a launcher such as tsx or npm. Only a later one is a second.
      if (Date.now() - firstAt < ECHO_WINDOW_MS) return;
      logger.warn({ signal }, "second stop signal: exiting without waiting");
      process.exit(128 + constants.signals[signal]);
    }
    stopping = true;
    firstAt = Date.now();
    logger.info({ signal }, "stopping");
    started
      .then((runtime) => runtime.stop())
      .then(
        (clean) => {
          logger.info(clean ? "stopped" : "stopped, with errors (logged above)");
          process.exit(clean ? 0 : 1);
        },
        // A failed start is reported by the entry point.
        () => process.exit(1),
      );
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
}

/** `npm start [options]`: the same options as `rs-server start` (start-options.ts). */
export async function serve(argv: string[]): Promise<Runtime> {
  const cmd = exitOnMisuse(addStartOptions(new Command("rs-server")))
    .description("start the admin API, the broker and the workers")
    .version(PACKAGE_VERSION, "-V, --version")
    .parse(argv, { from: "user" });
  return serveWith(cmd.opts<StartOptions>());
}

export async function serveWith(opts: StartOptions): Promise<Runtime> {
  const config = loadConfig({ file: opts.config, overrides: startOverrides(opts) });
  const logger = createLogger(config);
  const started = startRuntime(config, { logger });
  stopOnSignals(started, logger);
  const runtime = await started;
  process.stdout.write(banner(runtime, VERSION));
  return runtime;
}

/** One line, never a stack trace: what failed and, where rs-server knows it, what to do. */
export function reportStartFailure(err: unknown): never {
  process.stderr.write(`rs-server failed to start: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serve(process.argv.slice(2)).catch(reportStartFailure);
}
