// `rs-server pools ...`: TRS projects (pools) — list, show, create, update, delete, statistics
// and the server-wide settings (POST/PUT/GET/DELETE /projects/...).
import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import { accessCommand } from "./access.ts";
import { CliError } from "./client.ts";
import { flavorId, imageId, networkId } from "./cloud-names.ts";
import {
  action,
  type Ctx,
  done,
  enc,
  filterOption,
  filterQuery,
  group,
  positiveInt,
  printList,
  printObject,
} from "./command.ts";
import { poolDrainCommands, rolloutCommand } from "./drain.ts";
import { optionalId, poolId, userId } from "./names.ts";
import type { Row } from "./table.ts";

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
    .option("--flavor <flavor>", "flavor of the instances (id or name)")
    .option("--image <image>", "image of the instances (id or name)")
    .option("--network <network>", "network the instances are attached to (id or name)")
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
    .option("--max-users <n>", "most users of one instance (simultaneous mode)", positiveInt)
    .option("--idle-minutes <n|none>", "session policy: close sessions idle this long", minutesOrNone)
    .option(
      "--disconnected-minutes <n|none>",
      "session policy: close sessions disconnected this long",
      minutesOrNone,
    )
    .option("--max-minutes <n|none>", "session policy: close sessions open this long", minutesOrNone)
    .addOption(
      new Option("--after-session <action>", "what becomes of a desktop after its session").choices([
        "keep",
        "rebuild",
        "replace",
      ]),
    )
    .option(
      "--reserve-schedule <file>",
      "reserve schedule: a JSON file of {windows, holidays} (see docs/operations.md), or none to remove it",
    );
}

/** A number of minutes, or "none" (no limit: null in the API; commander turns a null into ""). */
function minutesOrNone(value: string): number | "none" {
  return value === "none" ? value : positiveInt(value);
}

/** The reserve schedule of --reserve-schedule: a JSON file, or null for "none". */
function readSchedule(file: string): unknown {
  if (file === "none") return null;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not JSON: ${(err as Error).message}`, 2);
  }
}

function readScript(file: string): string {
  try {
    return readFileSync(file).toString("base64");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
  }
}

/** The pool's session_policy object from the options given (undefined: none given). */
function sessionPolicy(o: Record<string, any>): Record<string, unknown> | undefined {
  const minutes = (v: number | "none" | undefined) => (v === "none" ? null : v);
  const policy = Object.fromEntries(
    Object.entries({
      idle_minutes: minutes(o.idleMinutes),
      disconnected_minutes: minutes(o.disconnectedMinutes),
      max_minutes: minutes(o.maxMinutes),
      after_session: o.afterSession,
    }).filter(([, v]) => v !== undefined),
  );
  return Object.keys(policy).length > 0 ? policy : undefined;
}

/** The API's project object from the options given (left-out options are left out); flavor,
 * image and network names are looked up in the cloud (cloud-names.ts). */
async function projectBody(ctx: Ctx, o: Record<string, any>): Promise<Record<string, unknown>> {
  const [flavor, image, network] = await Promise.all([
    optionalId(ctx, o.flavor, flavorId),
    optionalId(ctx, o.image, imageId),
    optionalId(ctx, o.network, networkId),
  ]);
  const body: Record<string, unknown> = {
    name: o.name,
    flavor_id: flavor,
    image_id: image,
    network_id: network,
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
    session_policy: sessionPolicy(o),
    reserve_schedule: o.reserveSchedule === undefined ? undefined : readSchedule(o.reserveSchedule),
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

const poolColumns = [
  { header: "ID", value: "id" },
  { header: "Name", value: "name" },
  { header: "Mode", value: (p: Row) => modeName(p.operation_mode) },
  { header: "Reserve", value: (p: Row) => reserveText(p.reserve as Row | undefined, p.min_reserve_vm) },
  { header: "State", value: (p: Row) => (p.draining ? "draining" : (p.reserve as Row | undefined)?.state) },
  { header: "Domain", value: "domain_id" },
];

function reserveText(reserve: Row | undefined, target: unknown): string {
  if (!reserve) return String(target ?? "");
  const building = Number(reserve.building) > 0 ? ` (+${reserve.building} building)` : "";
  return `${reserve.free}/${reserve.target}${building}`;
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
      .option("--user <user>", "only pools where this user holds a role (id or name)")
      .option("--mode <mode>", "only this operation mode", mode)
      .option("--with-os-object", "add Keystone's project object")
      .option(...filterOption),
    async (ctx) => {
      const o = ctx.opts;
      const query = filterQuery(o.filter, {
        name: o.name,
        enabled: o.enabled,
        domain: o.domain,
        user: await optionalId(ctx, o.user, userId),
        operation_mode: o.mode,
        with_os_object: o.withOsObject ? "true" : undefined,
      });
      const reply = await ctx.client.request("GET", "/projects/", { query });
      printList(ctx, reply, reply.body.projects, poolColumns);
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
      printObject(ctx, reply, reply.body.project);
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
      if (!ctx.opts.flavor || !ctx.opts.image)
        throw new CliError("pools create needs --flavor and --image", 2);
      const project = await projectBody(ctx, { ...ctx.opts, name: ctx.args[0] });
      const reply = await ctx.client.request("POST", "/projects/", { body: { project } });
      printObject(ctx, reply, reply.body.project);
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
      const project = await projectBody(ctx, ctx.opts);
      if (Object.keys(project).length === 0)
        throw new CliError("nothing to change: give at least one option", 2);
      const reply = await ctx.client.request("PUT", await poolPath(ctx), { body: { project } });
      printObject(ctx, reply, reply.body.project);
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
    { prints: false },
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
      printObject(ctx, reply, reply.body.statistics);
    },
  );

  action(
    pools.command("settings").description("the server's pool defaults (GET /projects/actions/get-settings)"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", "/projects/actions/get-settings");
      printObject(ctx, reply, reply.body.project_settings);
    },
  );

  pools.addCommand(accessCommand());
  poolDrainCommands(pools);
  pools.addCommand(rolloutCommand());
  return pools;
}
