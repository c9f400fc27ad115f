// What every admin subcommand shares: the connection options, the token, JSON or table output,
// and the exit codes (0 done, 1 the API or a service failed, 2 the command was used wrongly).
import { Command, InvalidArgumentError } from "commander";
import { AdminClient, type ApiReply, CliError, type Query } from "./client.ts";
import { resolveToken } from "./credentials.ts";

export interface Ctx {
  client: AdminClient;
  json: boolean;
  /** Options of the command itself (connection options included). */
  opts: Record<string, any>;
  args: any[];
  write(text: string): void;
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
      "admin API base URL (env RS_SERVER_URL)",
      process.env.RS_SERVER_URL ?? "http://127.0.0.1:9364",
    )
    .option("--os-cloud <name>", "log in with this cloud of clouds.yaml (env OS_CLOUD)")
    .option(
      "--clouds-file <file>",
      "the clouds.yaml to read (default: the OpenStack search path, then <data-dir>)",
    )
    .option(
      "--data-dir <dir>",
      "rs-server's data directory, whose clouds.yaml npm start writes (default ./.data)",
    )
    .option("--token <token>", "a Keystone token to send as is (env OS_TOKEN)")
    .option("--json", "print the API's JSON answer as is");
}

/** Adds the connection options and runs `fn` with a client; expected failures print one line. */
export function action(cmd: Command, fn: (ctx: Ctx) => Promise<void>): Command {
  return withConnection(cmd).action(async (...params: unknown[]) => {
    const command = params.at(-1) as Command;
    const opts = command.opts();
    try {
      const token = await resolveToken(opts);
      const ctx: Ctx = {
        client: new AdminClient(opts.url, token),
        json: Boolean(opts.json),
        opts,
        args: command.processedArgs,
        write: (text) => process.stdout.write(text),
      };
      await fn(ctx);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      process.stderr.write(`rs-server: ${err.message}\n`);
      process.exitCode = err.exitCode;
    }
  });
}

/** Prints an answer: its raw JSON with --json, else what `render` makes of its body. */
export function show(ctx: Ctx, reply: ApiReply, render: (body: any) => string): void {
  if (ctx.json) {
    if (reply.text) ctx.write(`${reply.text}\n`);
    return;
  }
  ctx.write(render(reply.body));
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
