// Where the admin API is: --url, else RS_SERVER_URL, else where the server's own configuration
// puts it. The configuration is read with the server's loader (src/config), so the same file
// (--config or RS_SERVER_CONFIG) and the same variables (RS_SERVER_ADMIN_PORT, ...) that moved
// the server move the CLI with it.
import { loadConfig } from "../../config/load.ts";
import type { Config } from "../../config/schema.ts";
import { CliError } from "./client.ts";

export interface ServerLocation {
  url: string;
  /** The configuration read, when --url and RS_SERVER_URL did not already say where. */
  config?: Config;
}

/** The host to connect to for a listening address: a wildcard means this machine. */
function connectHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "[::1]";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

export function locateServer(
  opts: { url?: string; config?: string },
  env: NodeJS.ProcessEnv = process.env,
): ServerLocation {
  if (opts.url) return { url: opts.url };
  if (env.RS_SERVER_URL) return { url: env.RS_SERVER_URL };
  let config: Config;
  try {
    config = loadConfig({ file: opts.config, env });
  } catch (err) {
    // The loader's own errors, and the YAML or JSON parser's for a malformed file.
    throw new CliError(
      `cannot read the server's configuration: ${(err as Error).message} (or give --url)`,
      2,
    );
  }
  const where = opts.config ?? env.RS_SERVER_CONFIG ?? "the defaults and RS_SERVER_* variables";
  if (!config.admin.enabled)
    throw new CliError(`the admin API is switched off in ${where} (admin.enabled): give --url`, 2);
  if (config.admin.port === 0)
    throw new CliError(`the admin API's port is 0 (any free port) in ${where}: give --url`, 2);
  return { url: `http://${connectHost(config.admin.host)}:${config.admin.port}`, config };
}
