// What every admin subcommand shares: the connection options, the token, the output formats
// (output.ts), progress on a terminal, and the exit codes (0 done, 1 the API or a service
// failed, 2 the command was used wrongly).
import { Command, InvalidArgumentError } from "commander";
import { AdminClient, type ApiReply, CliError, type Query } from "./client.ts";
import { resolveLogin } from "./credentials.ts";
import { type OutputOptions, outputFrom, outputOptions, renderList, renderObject } from "./output.ts";
import { locateServer } from "./server-url.ts";
import type { Column, Row } from "./table.ts";

export interface Ctx {
  client: AdminClient;
  json: boolean;
  output: OutputOptions;
  /** Options of the command itself (connection options included). */
  opts: Record<string, any>;
  args: any[];
  /** Keystone's v3 URL when known: where the service catalog is read for cloud names. */
  authUrl?: string;
  write(text: string): void;
  /** A progress line on stderr, rewritten in place; only on a terminal, so pipes stay clean. */
  progress(text: string): void;
}

/** Usage errors exit 2 (commander's own are 1); help exits 0. */
const usageExit = (err: { exitCode: number }) => process.exit(err.exitCode === 0 ? 0 : 2);

/** A command group (pools, instances, ...) whose subcommands inherit the usage exit code. */
export function group(name: string, description: string): Command {
  return new Command(name).description(description).exitOverride(usageExit);
}

function withConnection(cmd: Command): Command {
  return cmd
    .exitOverride(usageExit)
    .option(
      "--url <url>",
      "admin API base URL (env RS_SERVER_URL; default: from the server's configuration, http://127.0.0.1:9364)",
    )
    .option(
      "--config <file>",
      "the server's configuration file, to find its admin API and data directory (env RS_SERVER_CONFIG)",
    )
    .option("--os-cloud <name>", "log in with this cloud of clouds.yaml (env OS_CLOUD)")
    .option(
      "--clouds-file <file>",
      "the clouds.yaml to read (default: the OpenStack search path, then <data-dir>)",
    )
    .option(
      "--data-dir <dir>",
      "rs-server's data directory, whose clouds.yaml npm start writes (default: the configuration's, ./.data)",
    )
    .option("--token <token>", "a Keystone token to send as is (env OS_TOKEN)")
    .option("--json", "print the API's JSON answer as is");
}

/** A progress line on stderr, only when stderr is a terminal; `end` closes it with a newline. */
function progressLine() {
  const live = Boolean(process.stderr.isTTY);
  let shown = false;
  return {
    update(text: string) {
      if (!live) return;
      shown = true;
      process.stderr.write(`\r\x1b[2K${text}`);
    },
    end() {
      if (shown) process.stderr.write("\n");
      shown = false;
    },
  };
}

/**
 * Adds the connection options (and the output options unless the command prints only a
 * confirmation) and runs `fn` with a client; expected failures print one line.
 */
export function action(cmd: Command, fn: (ctx: Ctx) => Promise<void>, options = { prints: true }): Command {
  if (options.prints) outputOptions(cmd);
  return withConnection(cmd).action(async (...params: unknown[]) => {
    const command = params.at(-1) as Command;
    const opts = command.opts();
    let progress: ReturnType<typeof progressLine> | undefined;
    try {
      const where = locateServer(opts);
      // The configuration's data directory is where that server wrote its clouds.yaml.
      const env = where.config ? { RS_SERVER_DATA_DIR: where.config.dataDir, ...process.env } : process.env;
      const login = await resolveLogin(opts, env);
      progress = progressLine();
      const ctx: Ctx = {
        client: new AdminClient(where.url, login.token),
        json: Boolean(opts.json),
        output: outputFrom(opts),
        opts,
        args: command.processedArgs,
        authUrl: login.authUrl,
        write: (text) => {
          progress?.end();
          process.stdout.write(text);
        },
        progress: progress.update,
      };
      await fn(ctx);
    } catch (err) {
      progress?.end();
      if (!(err instanceof CliError)) throw err;
      process.stderr.write(`rs-server: ${err.message}\n`);
      process.exitCode = err.exitCode;
    }
  });
}

/** Prints a list answer: its raw JSON with --json, else `rows` in the chosen format. */
export function printList(ctx: Ctx, reply: ApiReply, rows: Row[], columns: Column[]): void {
  if (ctx.json) {
    if (reply.text) ctx.write(`${reply.text}\n`);
    return;
  }
  ctx.write(renderList(rows, columns, ctx.output));
  if (reply.next) ctx.write(`next page: --marker ${reply.next}\n`);
}

/** Prints an answer holding one object: its raw JSON with --json, else `object` in the format. */
export function printObject(ctx: Ctx, reply: ApiReply, object: Row): void {
  if (ctx.json) {
    if (reply.text) ctx.write(`${reply.text}\n`);
    return;
  }
  ctx.write(renderObject(object, ctx.output));
}

/** For answers without a body (204): a confirmation line, nothing with --json. */
export function done(ctx: Ctx, message: string): void {
  if (!ctx.json) ctx.write(`${message}\n`);
}

/** Collects repeated `--filter key=value` (or `key__modifier=value`) options. */
export function collectFilter(value: string, previous: string[] = []): string[] {
  if (!/^[A-Za-z_][\w]*=/.test(value))
    throw new InvalidArgumentError("expected key=value, e.g. user_name__contains=adm");
  return [...previous, value];
}

export const filterOption = [
  "--filter <key=value>",
  "a filter of the API, key or key__modifier (repeatable)",
  collectFilter,
] as const;

/** `--limit`, `--marker`, `--sort key[:asc|desc]`: one page of a list (docs/admin-api.md). */
export function pageOptions(cmd: Command): Command {
  return cmd
    .option("--limit <n>", "at most n items (one page; the next page's marker is printed)", positiveInt)
    .option("--marker <id>", "the page after this item (the id printed as the next page's marker)")
    .option("--sort <key[:dir]>", "sort key, with :asc or :desc (e.g. created_at:desc)");
}

/** The API's paging parameters of pageOptions. */
export function pageQuery(o: { limit?: number; marker?: string; sort?: string }): Query {
  const [key, dir] = (o.sort ?? "").split(":");
  return {
    limit: o.limit === undefined ? undefined : String(o.limit),
    marker: o.marker,
    sort_key: key || undefined,
    sort_dir: dir || undefined,
  };
}

/** The query of `--filter` options plus named ones; a repeated key is sent repeated. */
export function filterQuery(filters: string[] | undefined, named: Query = {}): Query {
  const query: Query = { ...named };
  for (const f of filters ?? []) {
    const at = f.indexOf("=");
    const key = f.slice(0, at);
    const value = f.slice(at + 1);
    const prev = query[key];
    query[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return query;
}

export const enc = encodeURIComponent;

/** A comma-separated list of ids ("" gives an empty list). */
export function idList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number");
  return Number(value);
}
