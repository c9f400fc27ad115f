// `rs-server audit ...`: the admin API's audit trail (GET /v1/audit): `list` a page of it,
// newest first, with its filters; `export` every event of a time range, oldest first, paged
// through the API (before_id), in any output format (-f json by default, csv, yaml, ...).
import { type Command, InvalidArgumentError } from "commander";
import type { Query } from "./client.ts";
import { action, type Ctx, filterOption, filterQuery, group, positiveInt, printList } from "./command.ts";
import { renderList } from "./output.ts";
import type { Column, Row } from "./table.ts";

const columns: Column[] = [
  { header: "Id", value: "id" },
  { header: "At", value: "at" },
  { header: "User", value: "user_name" },
  { header: "Method", value: "method" },
  { header: "Route", value: "route" },
  { header: "Target", value: (r) => Object.values((r.target ?? {}) as Record<string, string>).join(" ") },
  { header: "Keys", value: (r) => ((r.changed_keys ?? []) as string[]).join(" ") },
  { header: "Status", value: "status" },
  { header: "Client IP", value: "client_ip" },
];

/** ISO 8601 as the API takes it (UTC without an offset). */
function time(value: string): string {
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(new Date(value).getTime()))
    throw new InvalidArgumentError("expected an ISO 8601 time, e.g. 2026-12-03T08:00:00");
  return value;
}

function filtered(cmd: Command): Command {
  return cmd
    .option("--user <name>", "only changes by this user name (user_name)")
    .option("--method <method>", "only this HTTP method (POST, PUT, PATCH, DELETE)")
    .option("--route <text>", "only routes containing this text (route__contains)")
    .option("--target <id>", "only changes naming this id (target__contains)")
    .option("--status <status>", "only this HTTP status answered")
    .option("--refused", "only refused changes (status 400 and above)")
    .option("--since <time>", "only events at or after this time (ISO 8601, UTC)", time)
    .option("--until <time>", "only events before this time (ISO 8601, UTC)", time)
    .option(...filterOption);
}

function auditQuery(o: Record<string, any>): Query {
  return filterQuery(o.filter, {
    user_name: o.user,
    method: o.method?.toUpperCase(),
    route__contains: o.route,
    target__contains: o.target,
    status: o.status,
    status__gte: o.refused ? "400" : undefined,
    at__gte: o.since,
    at__lt: o.until,
  });
}

/** Export pages of this size: one request per thousand events. */
const PAGE = 1000;

async function exportAll(ctx: Ctx): Promise<Row[]> {
  const page: number = ctx.opts.page ?? PAGE;
  const rows: Row[] = [];
  let beforeId: string | undefined;
  for (;;) {
    const reply = await ctx.client.request("GET", "/audit", {
      query: { ...auditQuery(ctx.opts), limit: String(page), before_id: beforeId },
    });
    const events = reply.body.events as Row[];
    rows.push(...events);
    ctx.progress(`${rows.length} events`);
    if (events.length < page) break;
    beforeId = String(events[events.length - 1].id);
  }
  return rows.reverse();
}

export function auditCommand(): Command {
  const audit = group("audit", "the audit trail: who changed what through the admin API, when, from where");

  action(
    filtered(audit.command("list").description("list audit events, newest first (GET /audit)")).option(
      "--limit <n>",
      "at most this many events (default 100)",
      positiveInt,
    ),
    async (ctx) => {
      const query = { ...auditQuery(ctx.opts), limit: ctx.opts.limit ? String(ctx.opts.limit) : undefined };
      const reply = await ctx.client.request("GET", "/audit", { query });
      printList(ctx, reply, reply.body.events, columns);
    },
  );

  const exported = filtered(
    audit
      .command("export")
      .description("every audit event of a time range, oldest first, with all fields (-f json or csv)")
      .option("--page <n>", `events per request to the API (default ${PAGE}, at most 10000)`, positiveInt),
  );
  action(exported, async (ctx) => {
    const rows = await exportAll(ctx);
    // Every field of the API's events; nested ones (target, keys, values) as JSON text in csv.
    const all: Column[] = [
      "id",
      "at",
      "user_id",
      "user_name",
      "domain_id",
      "method",
      "route",
      "target",
      "changed_keys",
      "changed_values",
      "client_ip",
      "status",
      "request_id",
    ].map((k) => ({
      header: k,
      value: (r: Row) =>
        ctx.output.format === "csv" && typeof r[k] === "object" && r[k] !== null
          ? JSON.stringify(r[k])
          : r[k],
    }));
    if (ctx.json) ctx.write(`${JSON.stringify({ events: rows })}\n`);
    else ctx.write(renderList(rows, all, ctx.output));
  });
  // An export is for machines: JSON unless told otherwise.
  // (commander set the shared default when the option was added: change the value and its help)
  exported.options.find((o) => o.long === "--format")?.default("json");
  exported.setOptionValueWithSource("format", "json", "default");

  return audit;
}
