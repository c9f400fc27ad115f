// The rs-server command: start the server (default), run the OpenStack simulator alone,
// print the configuration reference, manage licenses, and operate a running server through
// its admin API (pools, instances, assignments, sessions, ...: see docs/cli.md).
import { resolve } from "node:path";
import { Command } from "commander";
import { addStartOptions, exitOnMisuse, PACKAGE_VERSION, type StartOptions } from "../start-options.ts";
import { addAdminCommands } from "./admin/index.ts";
import { licenseCommand } from "./license.ts";

const program = new Command("rs-server")
  .description("VDI broker and management service for OpenStack")
  .version(PACKAGE_VERSION, "-V, --version");

addStartOptions(
  program
    .command("start")
    .description("start the admin API, the broker and the workers (the default command)"),
).action(async (opts: StartOptions) => {
  // Imported here so that the other commands do not load the whole server.
  const { reportStartFailure, serveWith } = await import("../main.ts");
  await serveWith(opts).catch(reportStartFailure);
});

program
  .command("simulator")
  .description("run the built-in OpenStack simulator alone")
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--port <port>", "port (0: any free port)", "5000")
  .option("-d, --data-dir <dir>", "where its state and clouds.yaml are kept", "./.data/simulator")
  .option("--build-delay-ms <ms>", "how long servers stay in BUILD", "2000")
  .action(async (opts) => {
    // Imported here so that light commands do not load the whole server.
    const { startSimulator, writeCloudsYaml } = await import("../simulator/server.ts");
    const dataDir = resolve(opts.dataDir);
    const sim = await startSimulator({
      host: opts.host,
      port: Number(opts.port),
      dataDir,
      options: { buildDelayMs: Number(opts.buildDelayMs) },
    });
    const cloudsYaml = resolve(dataDir, "clouds.yaml");
    writeCloudsYaml(sim, cloudsYaml);
    process.stdout.write(
      [
        `OpenStack simulator at ${sim.url}, Keystone ${sim.authUrl}`,
        `  admin: ${sim.admin.username} / ${sim.admin.password}`,
        `  demo:  ${sim.demo.username} / ${sim.demo.password} (domain ${sim.demo.userDomainName})`,
        `  clouds.yaml: ${cloudsYaml} (OS_CLIENT_CONFIG_FILE=${cloudsYaml} openstack --os-cloud rs-admin server list)`,
        "",
      ].join("\n"),
    );
    const stop = async () => {
      await sim.stop();
      process.exit(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });

program
  .command("config")
  .description("configuration helpers")
  .command("docs")
  .description("print the configuration reference (Markdown)")
  .action(async () => {
    // Imported here: the schema's documentation is not needed by the other commands.
    const { configReference } = await import("../config/docs.ts");
    process.stdout.write(configReference());
  });

program.addCommand(licenseCommand());
// Misuse exits 2 with the usage line (the admin commands set that up themselves).
const withUsageExit = (cmd: Command): void => {
  exitOnMisuse(cmd);
  for (const sub of cmd.commands) withUsageExit(sub);
};
withUsageExit(program);
addAdminCommands(program);

/** No command, or only options (`rs-server --data-dir d`): start, as `npm start` does. */
const startsWithOptions = (args: string[]) =>
  args.length === 0 || (args[0].startsWith("-") && !["-h", "--help", "-V", "--version"].includes(args[0]));

const args = process.argv.slice(2);
await program.parseAsync(startsWithOptions(args) ? ["start", ...args] : args, { from: "user" });
