// POST /servers: Nova's request validation, network and security group resolution, the
// instances/cores/ram quota check with Nova's partial multi-create (max_count when it fits,
// down to min_count), multi-create naming (`<name>-<n>`), ports and the start of each build.
import { randomBytes, randomUUID } from "node:crypto";
import { createPort } from "../neutron/ports.ts";
import type { NetworkRecord } from "../neutron/state.ts";
import { NeutronError } from "../neutron/state.ts";
import { badRequest, conflict, invalidInput, NovaFault } from "./errors.ts";
import { begin, novaTime } from "./lifecycle.ts";
import type { NovaCall, NovaEnv } from "./scope.ts";
import type { FlavorRecord, NovaQuota, ServerRecord, Usage } from "./state.ts";

const BASE_KEYS = new Set([
  "name",
  "imageRef",
  "flavorRef",
  "adminPass",
  "metadata",
  "networks",
  "OS-DCF:diskConfig",
  "accessIPv4",
  "accessIPv6",
  "personality",
  "security_groups",
  "user_data",
  "availability_zone",
  "key_name",
  "config_drive",
  "min_count",
  "max_count",
  "return_reservation_id",
  "block_device_mapping",
  "block_device_mapping_v2",
]);

/** Keys a microversion adds to the create schema. */
const VERSIONED_KEYS: [string, number][] = [
  ["description", 19],
  ["tags", 52],
  ["trusted_image_certificates", 63],
  ["host", 74],
  ["hypervisor_hostname", 74],
  ["hostname", 90],
];

/** Nova's multi_instance_display_name_template default. */
export const NAME_TEMPLATE = "%(name)s-%(count)d";

interface NetworkRequest {
  networkId?: string;
  portId?: string;
  fixedIp?: string;
}

function parseCount(value: unknown, field: string): number {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    throw invalidInput(field, value, `${JSON.stringify(value)} is not valid under any of the given schemas`);
  }
  return n;
}

function isBase64(s: string): boolean {
  const compact = s.replace(/\s+/g, "");
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

function validTag(t: unknown): boolean {
  return typeof t === "string" && t.length >= 1 && t.length <= 60 && !t.includes("/") && !t.includes(",");
}

export function validateTags(tags: unknown, field = "tags"): string[] {
  if (!Array.isArray(tags)) throw invalidInput(field, tags, `${JSON.stringify(tags)} is not of type 'array'`);
  if (tags.length > 50) throw invalidInput(field, tags, `${JSON.stringify(tags)} is too long`);
  for (const t of tags) {
    if (!validTag(t)) throw invalidInput(field, t, `${JSON.stringify(t)} does not match "^[^,/]*$"`);
  }
  if (new Set(tags).size !== tags.length)
    throw invalidInput(field, tags, `${JSON.stringify(tags)} has non-unique elements`);
  return tags as string[];
}

/** Networks the project may boot on without naming one ("auto", or none given before 2.37). */
function autoNetworks(env: NovaEnv, projectId: string): NetworkRecord[] {
  return [...env.neutron.networks.values()].filter(
    (n) => !n["router:external"] && (n.project_id === projectId || n.shared),
  );
}

function resolveNetworks(
  env: NovaEnv,
  c: NovaCall,
  projectId: string,
  networks: unknown,
  count: number,
): NetworkRequest[] {
  if (networks === "none") return [];
  if (networks === "auto" || networks === undefined) {
    const candidates = autoNetworks(env, projectId);
    if (candidates.length > 1) {
      throw conflict("Multiple possible networks found, use a Network ID to be more specific.");
    }
    if (candidates.length === 0) {
      if (networks === "auto") {
        throw badRequest(`Unable to automatically allocate a network for project ${projectId}`);
      }
      return [];
    }
    return [{ networkId: candidates[0]!.id }];
  }
  if (!Array.isArray(networks)) {
    throw invalidInput(
      "networks",
      networks,
      `${JSON.stringify(networks)} is not valid under any of the given schemas`,
    );
  }
  return networks.map((raw: Record<string, unknown>) => {
    if (!raw || typeof raw !== "object") throw invalidInput("networks", raw, "is not of type 'object'");
    const portId = raw.port as string | undefined;
    if (portId) {
      if (count > 1) {
        throw badRequest(
          "Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.",
        );
      }
      const port = env.neutron.ports.get(portId);
      if (!port || (!c.admin && port.project_id !== projectId))
        throw badRequest(`Port ${portId} could not be found.`);
      if (port.device_id) throw conflict(`Port ${portId} is still in use.`);
      return { portId };
    }
    const uuid = raw.uuid as string | undefined;
    if (!uuid) throw badRequest("Bad networks format: network uuid is not in proper format ()");
    const n = env.neutron.networks.get(uuid);
    if (!n || !env.neutron.networkVisibleTo(n, projectId, c.admin)) {
      throw badRequest(`Network ${uuid} could not be found.`);
    }
    if (raw.fixed_ip !== undefined && count > 1) {
      throw badRequest("max_count cannot be greater than 1 if an fixed_ip is specified.");
    }
    return { networkId: uuid, fixedIp: raw.fixed_ip as string | undefined };
  });
}

/**
 * nova.compute.utils.check_num_instances_quota: how many of [min, max] fit, or Nova's
 * TooManyInstances (403) naming every resource over its limit.
 */
export function checkInstanceQuota(
  q: NovaQuota,
  used: Usage,
  flavor: FlavorRecord,
  min: number,
  max: number,
): number {
  const headroom = (limit: number, inUse: number) => (limit < 0 ? Number.POSITIVE_INFINITY : limit - inUse);
  const room = {
    instances: headroom(q.instances, used.instances),
    cores: headroom(q.cores, used.cores),
    ram: headroom(q.ram, used.ram),
  };
  let allowed = room.instances;
  if (flavor.vcpus) allowed = Math.min(allowed, Math.floor(room.cores / flavor.vcpus));
  if (flavor.ram) allowed = Math.min(allowed, Math.floor(room.ram / flavor.ram));
  if (allowed >= max) return max;
  if (allowed >= min) return allowed;
  const requested = {
    instances: min === max ? String(min) : `${min}-${max}`,
    cores: max * flavor.vcpus,
    ram: max * flavor.ram,
  };
  const deltas = { instances: max, cores: max * flavor.vcpus, ram: max * flavor.ram };
  const overs = (["cores", "instances", "ram"] as const).filter((r) => deltas[r] > room[r]);
  const limits = { instances: q.instances, cores: q.cores, ram: q.ram };
  const join = (f: (r: (typeof overs)[number]) => string | number) => overs.map(f).join(", ");
  throw new NovaFault(
    403,
    `Quota exceeded for ${join((r) => r)}: Requested ${join((r) => requested[r])}, but already used ${join((r) => used[r])} of ${join((r) => limits[r])} ${join((r) => r)}`,
  );
}

function hostnameOf(name: string): string {
  const h = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return h || "server";
}

const reservationId = () =>
  `r-${randomBytes(6)
    .toString("base64url")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "0")
    .slice(0, 8)}`;
const adminPass = () => randomBytes(9).toString("base64url").slice(0, 12);

export interface CreateResult {
  servers: ServerRecord[];
  reservationId: string;
  adminPass: string;
  returnReservationId: boolean;
}

export function createServers(env: NovaEnv, c: NovaCall, payload: unknown): CreateResult {
  const body = (payload as { server?: unknown } | undefined)?.server as Record<string, unknown> | undefined;
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw badRequest("Invalid input for field/attribute server. Value: None. None is not of type 'object'");
  }
  const allowed = new Set(BASE_KEYS);
  for (const [k, min] of VERSIONED_KEYS) if (c.minor >= min) allowed.add(k);
  if (c.minor >= 57) allowed.delete("personality");
  const extra = Object.keys(body).filter((k) => !allowed.has(k));
  if (extra.length) {
    throw badRequest(
      `Invalid input for field/attribute server. Value: ${JSON.stringify(body)}. Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(", ")} ${extra.length > 1 ? "were" : "was"} unexpected)`,
    );
  }

  const name = body.name;
  if (name === undefined)
    throw badRequest("Invalid input for field/attribute server. Value: ... 'name' is a required property");
  if (typeof name !== "string" || name.length < 1 || name.length > 255 || name.trim() !== name) {
    throw invalidInput("name", name, `${JSON.stringify(name)} does not match '^(?! )[\\S ]*(?<! )$'`);
  }
  if (body.flavorRef === undefined) {
    throw badRequest(
      "Invalid input for field/attribute server. Value: ... 'flavorRef' is a required property",
    );
  }
  const flavor = env.state.findFlavor(String(body.flavorRef));
  if (!flavor || flavor.disabled) throw badRequest("Invalid flavorRef provided.");

  const bootsFromVolume =
    Array.isArray(body.block_device_mapping_v2) && body.block_device_mapping_v2.length > 0;
  const imageRef =
    typeof body.imageRef === "string" ? body.imageRef.replace(/\/+$/, "").split("/").pop()! : "";
  if (!imageRef && !bootsFromVolume) throw badRequest("Invalid imageRef provided.");
  if (imageRef) {
    const image = env.glance.images.get(imageRef);
    if (!image || !env.glance.visibleTo(image, c.projectId, c.admin)) {
      throw badRequest(`Image ${imageRef} could not be found.`);
    }
    if (image.status !== "active") throw badRequest(`Image ${imageRef} is not active.`);
    if (image.min_ram > flavor.ram) throw badRequest("Flavor's memory is too small for requested image.");
    if (image.min_disk > flavor.disk && flavor.disk > 0)
      throw badRequest("Flavor's disk is too small for requested image.");
  }

  const min = body.min_count === undefined ? 1 : parseCount(body.min_count, "min_count");
  const max = body.max_count === undefined ? min : parseCount(body.max_count, "max_count");
  if (min > max) throw badRequest("min_count must be <= max_count");

  if (c.minor >= 37 && body.networks === undefined) {
    throw badRequest(
      "Invalid input for field/attribute server. Value: ... 'networks' is a required property",
    );
  }
  const az = (body.availability_zone as string | undefined) ?? "nova";
  if (az !== "nova") throw badRequest("The requested availability zone is not available");

  const userData = body.user_data;
  if (userData !== undefined && userData !== null) {
    if (typeof userData !== "string" || !isBase64(userData)) {
      throw invalidInput("user_data", userData, `${JSON.stringify(userData)} is not a 'base64'`);
    }
    if (userData.length > 65535) throw invalidInput("user_data", "...", "is too long");
  }
  const metadata = (body.metadata ?? {}) as Record<string, unknown>;
  if (typeof metadata !== "object" || Array.isArray(metadata)) {
    throw invalidInput("metadata", metadata, "is not of type 'object'");
  }
  for (const [k, val] of Object.entries(metadata)) {
    if (k.length < 1 || k.length > 255) throw invalidInput(`metadata`, k, "is too long");
    if (typeof val !== "string" || val.length > 255) {
      throw invalidInput(`metadata/${k}`, val, `${JSON.stringify(val)} is not of type 'string'`);
    }
  }
  const tags = body.tags === undefined ? [] : validateTags(body.tags, "server/tags");
  if (body.key_name !== undefined && body.key_name !== null) throw badRequest("Invalid key_name provided.");
  const description = body.description === undefined ? null : (body.description as string | null);
  if (description !== null && (typeof description !== "string" || description.length > 255)) {
    throw invalidInput("description", description, "is not valid under any of the given schemas");
  }

  const projectId = c.projectId;
  const groupNames = Array.isArray(body.security_groups)
    ? (body.security_groups as { name?: string }[]).map((g) => String(g?.name ?? ""))
    : ["default"];
  const groupIds = groupNames.map((g) => {
    const found = env.neutron.findGroup(projectId, g);
    if (!found) throw badRequest(`Security group ${g} not found.`);
    return found.id;
  });
  const networks = resolveNetworks(env, c, projectId, body.networks, max);

  const count = checkInstanceQuota(
    env.state.quotaOf(projectId),
    env.state.usage(projectId),
    flavor,
    min,
    max,
  );

  const reservation = reservationId();
  const password = typeof body.adminPass === "string" ? body.adminPass : adminPass();
  const faults = env.ctx.faults;
  const outcome = faults.stuckBuild ? "stuck" : faults.errorBuilds ? "error" : "active";
  const now = novaTime();
  const servers: ServerRecord[] = [];
  for (let i = 0; i < count; i++) {
    const displayName =
      count > 1 ? NAME_TEMPLATE.replace("%(name)s", name).replace("%(count)d", String(i + 1)) : name;
    const seq = ++env.state.seq;
    const s: ServerRecord = {
      id: randomUUID(),
      seq,
      name: displayName,
      project_id: projectId,
      user_id: "",
      flavor_id: flavor.id,
      flavor: {
        vcpus: flavor.vcpus,
        ram: flavor.ram,
        disk: flavor.disk,
        ephemeral: flavor.ephemeral,
        swap: flavor.swap,
        original_name: flavor.name,
        extra_specs: { ...flavor.extra_specs },
      },
      image_id: imageRef,
      availability_zone: az,
      vm_state: "building",
      task_state: "spawning",
      power_state: 0,
      created: now,
      updated: now,
      launched_at: null,
      terminated_at: null,
      metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)])),
      tags: [...tags],
      security_groups: groupNames,
      user_data: (userData as string | undefined) ?? null,
      key_name: null,
      reservation_id: reservation,
      launch_index: i,
      hostname: hostnameOf(displayName),
      description,
      locked: false,
      locked_reason: null,
      access_ipv4: typeof body.accessIPv4 === "string" ? body.accessIPv4 : "",
      access_ipv6: typeof body.accessIPv6 === "string" ? body.accessIPv6 : "",
      config_drive: body.config_drive ? "True" : "",
      host: outcome === "error" ? null : "sim-compute-1",
      instance_name: `instance-${seq.toString(16).padStart(8, "0")}`,
      fault: null,
      volumes: [],
      created_ports: [],
      pending: null,
    };
    s.user_id = c.userId;
    env.state.add(s);
    try {
      plug(env, c, s, networks, groupIds);
    } catch (e) {
      // Nova's compute manager fails the build when Neutron refuses a port: ERROR, not a 4xx.
      if (!(e instanceof NeutronError)) throw e;
      s.pending = null;
      s.vm_state = "error";
      s.task_state = null;
      s.host = null;
      s.fault = {
        code: 500,
        message: `Build of instance ${s.id} aborted: ${e.message}`,
        details: e.message,
        created: novaTime(),
      };
      servers.push(s);
      continue;
    }
    begin(env, s, "build", env.ctx.options.buildDelayMs, outcome);
    servers.push(s);
  }
  return {
    servers,
    reservationId: reservation,
    adminPass: password,
    returnReservationId:
      body.return_reservation_id === true ||
      body.return_reservation_id === "True" ||
      body.return_reservation_id === "true",
  };
}

function plug(
  env: NovaEnv,
  c: NovaCall,
  s: ServerRecord,
  networks: NetworkRequest[],
  groupIds: string[],
): void {
  for (const n of networks) {
    if (n.portId) {
      const port = env.neutron.ports.get(n.portId)!;
      env.neutron.setDevice(port, s.id, `compute:${s.availability_zone}`);
      port.status = "ACTIVE";
      continue;
    }
    const port = createPort(env.neutron, {
      projectId: s.project_id,
      admin: c.admin,
      networkId: n.networkId!,
      fixedIps: n.fixedIp ? [{ ip_address: n.fixedIp }] : undefined,
      securityGroups: groupIds,
      deviceId: s.id,
      deviceOwner: `compute:${s.availability_zone}`,
    });
    s.created_ports.push(port.id);
  }
}
