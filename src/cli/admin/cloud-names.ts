// Flavor, image and network names, looked up in the cloud itself. The admin API has no route
// that lists flavors, images or networks (it only checks the ids a pool is given), so the CLI
// does what `openstack` does: it reads the service catalog of the operator's own token
// (GET /v3/auth/catalog) and asks Nova, Glance and Neutron with that token.
import { GlanceClient } from "../../cloud/glance.ts";
import { isCloudError, ServiceHttp } from "../../cloud/http.ts";
import { NeutronClient } from "../../cloud/neutron.ts";
import { NovaClient } from "../../cloud/nova.ts";
import { type CatalogEntry, findEndpoint } from "../../cloud/session.ts";
import { CliError } from "./client.ts";
import type { Ctx } from "./command.ts";
import { looksLikeUuid, onlyOne } from "./names.ts";

const TIMEOUT_MS = 30_000;

/** Catalogs per token, so that a pool created with three names reads the catalog once. */
const catalogs = new Map<string, Promise<CatalogEntry[]>>();

function catalog(ctx: Ctx, kind: string, ref: string): Promise<CatalogEntry[]> {
  const authUrl = ctx.authUrl;
  if (!authUrl)
    throw new CliError(
      `${kind} ${ref} is a name, which the CLI looks up in the cloud's catalog: set OS_AUTH_URL beside the token, log in with --os-cloud, or give the ${kind}'s id`,
      2,
    );
  const token = ctx.client.token;
  let found = catalogs.get(token);
  if (!found) {
    const keystone = new ServiceHttp({
      service: "identity",
      endpoint: async () => authUrl,
      timeoutMs: TIMEOUT_MS,
      retries: 0,
    });
    found = keystone
      .get<{ catalog: CatalogEntry[] }>("/auth/catalog", { headers: { "X-Auth-Token": token } })
      .then((b) => b.catalog ?? []);
    catalogs.set(token, found);
  }
  return found;
}

/** A client's ServiceHttp for one catalog service type, with the operator's token. */
async function service(ctx: Ctx, type: string, kind: string, ref: string): Promise<ServiceHttp> {
  const entries = await catalog(ctx, kind, ref);
  const iface = process.env.OS_INTERFACE ?? "public";
  const url = findEndpoint(entries, type, iface, process.env.OS_REGION_NAME);
  if (!url)
    throw new CliError(`no ${iface} ${type} endpoint in the cloud's catalog to look ${kind} ${ref} up`);
  return new ServiceHttp({
    service: type,
    endpoint: async () => url,
    token: async () => ctx.client.token,
    timeoutMs: TIMEOUT_MS,
    retries: 0,
  });
}

/** Cloud failures (401, outage, ...) said as the CLI says them. */
async function cloudCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isCloudError(err)) throw new CliError(`looking up ${what}: ${err.message}`);
    throw err;
  }
}

/** A flavor id: Nova's flavor ids are free text ("1", "m1.small"), so the id is tried first. */
export function flavorId(ctx: Ctx, ref: string): Promise<string> {
  return cloudCall(`flavor ${ref}`, async () => {
    const nova = new NovaClient(await service(ctx, "compute", "flavor", ref));
    try {
      return (await nova.getFlavor(ref)).id;
    } catch (err) {
      if (!isCloudError(err, "not_found")) throw err;
    }
    const flavors = (await nova.listFlavors()).filter((f) => f.name === ref);
    return onlyOne(
      "flavor",
      ref,
      flavors.map((f) => ({ id: f.id })),
    );
  });
}

export async function imageId(ctx: Ctx, ref: string): Promise<string> {
  if (looksLikeUuid(ref)) return ref;
  return cloudCall(`image ${ref}`, async () => {
    const glance = new GlanceClient(await service(ctx, "image", "image", ref));
    const images = await glance.listImages({ name: ref });
    return onlyOne(
      "image",
      ref,
      images.map((i) => ({ id: i.id, where: `owner ${i.owner ?? "none"}` })),
    );
  });
}

export async function networkId(ctx: Ctx, ref: string): Promise<string> {
  if (looksLikeUuid(ref)) return ref;
  return cloudCall(`network ${ref}`, async () => {
    const neutron = new NeutronClient(await service(ctx, "network", "network", ref));
    const networks = await neutron.listNetworks({ name: ref });
    return onlyOne(
      "network",
      ref,
      networks.map((n) => ({ id: n.id, where: `project ${n.projectId}` })),
    );
  });
}
