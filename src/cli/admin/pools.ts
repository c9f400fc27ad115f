// `rs-server pools ...`: TRS projects (pools) — list, show, create, update, delete, statistics
// and the server-wide settings (POST/PUT/GET/DELETE /projects/...).
import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError } from "commander";
import { CliError } from "./client.ts";
import {
  action,
  type Ctx,
  done,
  enc,
  filterOption,
  filterQuery,
  group,
  positiveInt,
  show,
} from "./command.ts";
import { fields, type Row, table } from "./table.ts";

const MODES: Record<string, string> = { "1": "1", "2": "2", standard: "1", simultaneous: "2" };
const modeName = (mode: unknown) => (mode === "1" ? "standard" : mode === "2" ? "simultaneous" : mode);

function mode(value: string): string {
  const m = MODES[value.toLowerCase()];
  if (!m) throw new InvalidArgumentError("expected 1 (standard) or 2 (simultaneous)");
  return m;
}

/** The pool settings both create and update take. */
function settingsOptions(cmd: Command): Command {
  return cmd
    .option("--flavor <id>", "flavor of the instances")
    .option("--image <id>", "image of the instances")
    .option("--network <id>", "network the instances are attached to")
    .option("--mode <mode>", "1 or standard (one user per instance), 2 or simultaneous", mode)
    .option("--az <zone>", "availability zone")
    .option("--description <text>", "project description")
    .option("--domain <id>", "Keystone domain id of the project")
    .option("--tags <tags>", "Keystone tags, comma-separated (trs is always added)")
    .option("--enabled <bool>", "project enabled (true/false)")
    .option("--min-reserve <n>", "free instances kept ready", positiveInt)
    .option("--name-pattern <pattern>", "instance name pattern; runs of * are a counter")
    .option("--init-script <file>", "script passed to every instance as user_data (sent base64)")
    .option("--user-volume <bool>", "give each user a personal volume (true/false)")
    .option("--volume-size <gb>", "size of user volumes, GB", positiveInt)
    .option("--volume-type <id>", "volume type of user volumes")
    .option("--max-users <n>", "most users of one instance (simultaneous mode)", positiveInt);
}

function readScript(file: string): string {
  try {
    return readFileSync(file).toString("base64");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
  }
}

/** The API's project object from the options given (left-out options are left out). */
function projectBody(o: Record<string, any>): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: o.name,
    flavor_id: o.flavor,
    image_id: o.image,
    network_id: o.network,
    operation_mode: o.mode,
    availability_zone: o.az,
    description: o.description,
    domain_id: o.domain,
    tags: o.tags,
    enabled: o.enabled,
    min_reserve_vm: o.minReserve,
    instance_name_pattern: o.namePattern,
    instance_init_script: o.initScript === undefined ? undefined : readScript(o.initScript),
    user_volume_enabled: o.userVolume,
    volume_size: o.volumeSize,
    volume_type_id: o.volumeType,
    max_users_per_instance: o.maxUsers,
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

const poolColumns = [
  { header: "ID", value: "id" },
  { header: "NAME", value: "name" },
  { header: "MODE", value: (p: Row) => modeName(p.operation_mode) },
  { header: "RESERVE", value: (p: Row) => reserveText(p.reserve as Row | undefined, p.min_reserve_vm) },
  { header: "STATE", value: (p: Row) => (p.reserve as Row | undefined)?.state },
  { header: "DOMAIN", value: "domain_id" },
];

function reserveText(reserve: Row | undefined, target: unknown): string {
  if (!reserve) return String(target ?? "");
  const building = Number(reserve.building) > 0 ? ` (+${reserve.building} building)` : "";
  return `${reserve.free}/${reserve.target}${building}`;
}

/** Keystone project ids are 32 hex digits; anything else names a pool by its project name. */
const PROJECT_ID = /^[0-9a-f]{32}$/i;

/** The pool's id for an id or a name (GET /projects/?name=…); one name in two domains needs the id. */
export async function poolId(ctx: Ctx, ref: string): Promise<string> {
  if (PROJECT_ID.test(ref)) return ref;
  const reply = await ctx.client.request("GET", "/projects/", { query: { name: ref } });
  const found = (reply.body?.projects ?? []) as { id: string; domain_id: string }[];
  if (found.length === 1) return found[0].id;
  if (found.length === 0) throw new CliError(`no pool named ${ref}`);
  throw new CliError(
    `${found.length} pools are named ${ref} (in domains ${found.map((p) => p.domain_id).join(", ")}): give its id`,
  );
}

/** The API path of the pool a command's <pool> argument names. */
async function poolPath(ctx: Ctx): Promise<string> {
  return `/projects/${enc(await poolId(ctx, ctx.args[0]))}`;
}

export function poolsCommand(): Command {
  const pools = group("pools", "desktop pools (TRS projects)");

  action(
    pools
      .command("list")
      .description("list pools (GET /projects/)")
      .option("--name <name>", "only this name")
      .option("--enabled <bool>", "only enabled (true) or disabled (false) pools")
      .option("--domain <name>", "only pools of this domain (by name)")
      .option("--user <id>", "only pools where this user holds a role")
      .option("--mode <mode>", "only this operation mode", mode)
      .option("--with-os-object", "add Keystone's project object")
      .option(...filterOption),
    async (ctx) => {
      const o = ctx.opts;
      const query = filterQuery(o.filter, {
        name: o.name,
        enabled: o.enabled,
        domain: o.domain,
        user: o.user,
        operation_mode: o.mode,
        with_os_object: o.withOsObject ? "true" : undefined,
      });
      const reply = await ctx.client.request("GET", "/projects/", { query });
      show(ctx, reply, (b) => table(b.projects, poolColumns));
    },
  );

  action(
    pools
      .command("show")
      .description("show one pool with its reserve (GET /projects/{id})")
      .argument("<pool>", "pool (project) id or name")
      .option("--with-os-object", "add Keystone's project object"),
    async (ctx) => {
      const query = { with_os_object: ctx.opts.withOsObject ? "true" : undefined };
      const reply = await ctx.client.request("GET", await poolPath(ctx), { query });
      show(ctx, reply, (b) => fields(b.project));
    },
  );

  action(
    settingsOptions(
      pools
        .command("create")
        .description("create a pool: a Keystone project tagged trs and its settings (POST /projects/)")
        .argument("<name>", "project name, unique in its domain"),
    ),
    async (ctx) => {
      const project = projectBody({ ...ctx.opts, name: ctx.args[0] });
      if (!project.flavor_id || !project.image_id)
        throw new CliError("pools create needs --flavor and --image", 2);
      const reply = await ctx.client.request("POST", "/projects/", { body: { project } });
      show(ctx, reply, (b) => `created pool ${b.project.id}\n`);
    },
  );

  action(
    settingsOptions(
      pools
        .command("update")
        .description("change a pool; options left out keep their value (PUT /projects/{id})")
        .argument("<pool>", "pool (project) id or name")
        .option("--name <name>", "new project name"),
    ),
    async (ctx) => {
      const project = projectBody(ctx.opts);
      if (Object.keys(project).length === 0)
        throw new CliError("nothing to change: give at least one option", 2);
      const reply = await ctx.client.request("PUT", await poolPath(ctx), { body: { project } });
      show(ctx, reply, (b) => fields(b.project));
    },
  );

  action(
    pools
      .command("delete")
      .description("delete a pool (DELETE /projects/{id}); refused while it has instances")
      .argument("<pool>", "pool (project) id or name")
      .option("--force", "also delete its instances in Nova and end their assignments"),
    async (ctx) => {
      const query = { force: ctx.opts.force ? "true" : undefined };
      await ctx.client.request("DELETE", await poolPath(ctx), { query });
      done(ctx, `deleted pool ${ctx.args[0]}`);
    },
  );

  action(
    pools
      .command("stats")
      .description(
        "count a pool's servers: created, active, error, free, occupied (GET /projects/{id}/statistics)",
      )
      .argument("<pool>", "pool (project) id or name"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", `${await poolPath(ctx)}/statistics`);
      show(ctx, reply, (b) => fields(b.statistics));
    },
  );

  action(
    pools.command("settings").description("the server's pool defaults (GET /projects/actions/get-settings)"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", "/projects/actions/get-settings");
      show(ctx, reply, (b) => fields(b.project_settings));
    },
  );

  return pools;
}
