// Names wherever ids are, as `openstack` takes them: a reference that has the shape of an id
// is used as the id; any other is looked up by name through the admin API. A name that
// matches nothing, or more than one, is an error that says so (and lists the candidates' ids).
import { CliError } from "./client.ts";
import type { Ctx } from "./command.ts";

export interface Candidate {
  id: string;
  /** Where the name is unique: a domain, a pool (shown in the ambiguity error). */
  where?: string;
}

/** Keystone ids are 32 hex digits (64 for LDAP-backed users); Nova, Glance, Neutron use UUIDs. */
const KEYSTONE_ID = /^(?:[0-9a-f]{32}|[0-9a-f]{64})$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const looksLikeKeystoneId = (ref: string) => KEYSTONE_ID.test(ref) || UUID.test(ref);
export const looksLikeUuid = (ref: string) => UUID.test(ref);

/** The one candidate, or the not-found / ambiguous error. */
export function onlyOne(kind: string, ref: string, found: Candidate[]): string {
  if (found.length === 1) return found[0].id;
  if (found.length === 0) throw new CliError(`no ${kind} named ${ref}`);
  const list = found.map((c) => (c.where ? `${c.id} (${c.where})` : c.id)).join(", ");
  throw new CliError(`${found.length} ${kind}s are named ${ref}: ${list}; give the id`);
}

/** The pool's id for an id or a project name (GET /projects/?name=…). */
export async function poolId(ctx: Ctx, ref: string): Promise<string> {
  if (looksLikeKeystoneId(ref)) return ref;
  const reply = await ctx.client.request("GET", "/projects/", { query: { name: ref } });
  const found = (reply.body?.projects ?? []) as { id: string; domain_id: string }[];
  return onlyOne(
    "pool",
    ref,
    found.map((p) => ({ id: p.id, where: `domain ${p.domain_id}` })),
  );
}

/** An instance's id for an id or its server name among rs-server's instances (GET /servers/). */
export async function instanceId(ctx: Ctx, ref: string): Promise<string> {
  if (looksLikeUuid(ref)) return ref;
  const reply = await ctx.client.request("GET", "/servers/");
  const found = ((reply.body?.servers ?? []) as { id: string; name: string; project_id: string }[]).filter(
    (s) => s.name === ref,
  );
  return onlyOne(
    "instance",
    ref,
    found.map((s) => ({ id: s.id, where: `pool ${s.project_id}` })),
  );
}

/** Keystone users and groups through the admin API's directory (GET /directory/users?name=…). */
async function directoryId(ctx: Ctx, kind: "user" | "group", ref: string): Promise<string> {
  if (looksLikeKeystoneId(ref)) return ref;
  const plural = `${kind}s` as const;
  const reply = await ctx.client
    .request("GET", `/directory/${plural}`, { query: { name: ref } })
    .catch((err) => {
      // The directory answers a name nobody has with an empty list: a 404 means no such route.
      if (err instanceof CliError && err.status === 404)
        throw new CliError(
          `the admin API at ${ctx.client.baseUrl} has no directory to look ${kind} names up (GET /v1/directory/${plural}): give the ${kind}'s id`,
        );
      throw err;
    });
  const found = (reply.body?.[plural] ?? []) as {
    id: string;
    name: string;
    domain_name?: string;
    domain_id: string;
  }[];
  return onlyOne(
    kind,
    ref,
    // The directory matches names as Keystone does; keep exact matches only.
    found
      .filter((e) => e.name === ref)
      .map((e) => ({ id: e.id, where: `domain ${e.domain_name ?? e.domain_id}` })),
  );
}

export const userId = (ctx: Ctx, ref: string) => directoryId(ctx, "user", ref);
export const groupId = (ctx: Ctx, ref: string) => directoryId(ctx, "group", ref);

/** Resolves every reference of a list, one lookup per name. */
export function resolveAll(
  ctx: Ctx,
  refs: string[] | undefined,
  resolve: (ctx: Ctx, ref: string) => Promise<string>,
): Promise<string[] | undefined> {
  return refs === undefined ? Promise.resolve(undefined) : Promise.all(refs.map((r) => resolve(ctx, r)));
}

/** The value if given, else its id. */
export async function optionalId(
  ctx: Ctx,
  ref: string | undefined,
  resolve: (ctx: Ctx, ref: string) => Promise<string>,
): Promise<string | undefined> {
  return ref === undefined ? undefined : resolve(ctx, ref);
}
