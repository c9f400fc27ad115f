// How the contract suite finds its cloud: RS_CONTRACT_CLOUD=<clouds.yaml path>#<cloud name>
// (a cloud with admin rights), or else the built-in simulator started in this process. The
// suite talks to either one only through the public APIs: no simulator internals, no seed
// ids; it discovers what it needs and creates (and removes) its own uniquely named things.
import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import { type Cloud, createCloud } from "../../src/cloud/cloud.ts";
import { credentialsFromCloudsYaml } from "../../src/cloud/clouds-yaml.ts";
import type { GlanceImage } from "../../src/cloud/glance.ts";
import { isCloudError, ServiceHttp } from "../../src/cloud/http.ts";
import type { NeutronNetwork } from "../../src/cloud/neutron.ts";
import type { NovaFlavor } from "../../src/cloud/nova.ts";
import { type CloudCredentials, CloudSession } from "../../src/cloud/session.ts";
import type { SimCredentials } from "../../src/simulator/server.ts";

export interface Discovered {
  flavor: NovaFlavor;
  image: GlanceImage;
  /** A tenant network servers can boot on, routed to `external` when the cloud has routers. */
  network: NeutronNetwork;
  external: NeutronNetwork;
  /** Whether `network` reaches `external` through a router (floating IPs need it). */
  routed: boolean;
}

export interface TestProject {
  id: string;
  name: string;
}

export interface CloudUnderTest {
  kind: "simulator" | "clouds.yaml";
  creds: CloudCredentials;
  session: CloudSession;
  cloud: Cloud;
  /** Deadline for a server to become ACTIVE (a guard against hanging, not a performance bound). */
  buildTimeoutMs: number;
  /** Poll interval for waits. */
  pollMs: number;
  discover(): Promise<Discovered>;
  /** A fresh project in the admin's domain where the admin holds the admin role. */
  createProject(prefix: string): Promise<TestProject>;
  /** Runs at stop(), last registered first. */
  defer(cleanup: () => Promise<unknown>): void;
  stop(): Promise<void>;
}

const RUN = randomBytes(3).toString("hex");

/** A name no other run (nor an earlier test of this one) has used. */
export function unique(prefix: string): string {
  return `rsct-${RUN}-${prefix}-${randomBytes(3).toString("hex")}`;
}

/** An id no cloud has: for the not_found cases. */
export const MISSING = "00000000-0000-4000-8000-00000000dead";

/** "ok" when the call succeeds, else the kind of the CloudError it fails with. */
export async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    if (isCloudError(err)) return err.kind;
    throw err;
  }
}

export interface Connected {
  cut: CloudUnderTest;
  d: Discovered;
  /** The admin's own project. */
  projectId: string;
}

/**
 * Connects to the cloud under test before the file's first test, discovers what the suite
 * boots on, and hands both (with the admin's project) to `ready`; stops after the last test.
 */
export function useCloudUnderTest(ready: (connected: Connected) => void): void {
  let cut: CloudUnderTest | undefined;
  before(async () => {
    cut = await cloudUnderTest();
    ready({ cut, d: await cut.discover(), projectId: await cut.session.projectId() });
  });
  after(async () => {
    await cut?.stop();
  });
}

export async function cloudUnderTest(): Promise<CloudUnderTest> {
  const spec = process.env.RS_CONTRACT_CLOUD;
  if (spec) return connect("clouds.yaml", fromCloudsYaml(spec), async () => {});
  // Imported only here, so a run against a real cloud never loads the simulator.
  const { startSimulator } = await import("../../src/simulator/server.ts");
  const sim = await startSimulator({ port: 0 });
  return connect("simulator", simulatorCredentials(sim.admin), () => sim.stop());
}

/** The simulator's admin account as the credentials rs-server's cloud session takes. */
export function simulatorCredentials(admin: SimCredentials): CloudCredentials {
  return {
    authUrl: admin.authUrl,
    username: admin.username,
    password: admin.password,
    userDomainName: admin.userDomainName,
    projectName: admin.projectName,
    projectDomainName: admin.projectDomainName,
    region: admin.region,
    interface: "public",
    timeoutMs: 10_000,
    retries: 2,
  };
}

/** `<path>#<cloud>`: one cloud of a clouds.yaml, read as rs-server itself reads it. */
export function fromCloudsYaml(spec: string): CloudCredentials {
  const hash = spec.lastIndexOf("#");
  if (hash < 0) throw new Error("RS_CONTRACT_CLOUD must be <path to clouds.yaml>#<cloud name>");
  return credentialsFromCloudsYaml(spec.slice(0, hash), spec.slice(hash + 1), {
    interface: "public",
    timeoutMs: 30_000,
    retries: 2,
  });
}

async function connect(
  kind: CloudUnderTest["kind"],
  creds: CloudCredentials,
  stopCloud: () => Promise<unknown>,
): Promise<CloudUnderTest> {
  const session = new CloudSession(creds);
  const cloud = createCloud(session);
  const identity = new ServiceHttp({
    service: "identity",
    endpoint: async () => session.authUrl,
    token: (force) => session.token(force),
    timeoutMs: creds.timeoutMs,
    retries: creds.retries,
  });
  const cleanups: (() => Promise<unknown>)[] = [];
  let discovered: Promise<Discovered> | undefined;

  const createProject = async (prefix: string): Promise<TestProject> => {
    const own = await identity.get(`/projects/${await session.projectId()}`);
    const name = unique(prefix);
    const { project } = await identity.post("/projects", {
      project: { name, domain_id: own.project.domain_id, description: "rs-server contract suite" },
    });
    cleanups.push(() => identity.delete(`/projects/${project.id}`));
    const { roles } = await identity.get("/roles", { query: { name: "admin" } });
    await identity.put(`/projects/${project.id}/users/${await session.userId()}/roles/${roles[0].id}`);
    return { id: project.id, name };
  };

  return {
    kind,
    creds,
    session,
    cloud,
    buildTimeoutMs: kind === "simulator" ? 30_000 : 180_000,
    pollMs: kind === "simulator" ? 100 : 1000,
    discover: () => {
      discovered ??= discover(cloud);
      return discovered;
    },
    createProject,
    defer: (fn) => cleanups.push(fn),
    stop: async () => {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          if (!isCloudError(err, "not_found")) console.error("contract cleanup:", (err as Error).message);
        }
      }
      await stopCloud();
    },
  };
}

/**
 * The smallest flavor, an active image, an external network and the tenant network to boot
 * on: one with a router interface whose router has a gateway on that external network
 * (floating IPs need it), else any other network with a subnet.
 */
export async function discover(cloud: Cloud): Promise<Discovered> {
  const network = cloud.session.http("network");
  const flavors = (await cloud.nova.listFlavors()).filter((f) => f.isPublic);
  if (!flavors.length) throw new Error("the cloud has no public flavor");
  const flavor = flavors.sort((a, b) => a.ram - b.ram || a.vcpus - b.vcpus)[0];
  const image = (await cloud.glance.listImages({ status: "active" }))[0];
  if (!image) throw new Error("the cloud has no active image");
  const networks = await cloud.neutron.listNetworks();
  const external = networks.find((n) => n.external);
  if (!external) throw new Error("the cloud has no external network");
  const candidates = networks.filter((n) => !n.external && n.subnetIds.length > 0);
  // Routers are not a client concern (the core never touches them): list them raw, once.
  const { routers } = await network.get<{ routers: Record<string, any>[] }>("/v2.0/routers");
  const gateways = new Set(
    routers.filter((r) => r.external_gateway_info?.network_id === external.id).map((r) => r.id),
  );
  const interfaces = await cloud.neutron.listPorts({ deviceOwner: "network:router_interface" });
  const routed = new Set(interfaces.filter((p) => gateways.has(p.deviceId)).map((p) => p.networkId));
  const tenant = candidates.find((n) => routed.has(n.id)) ?? candidates[0];
  if (!tenant) throw new Error("the cloud has no tenant network with a subnet");
  return { flavor, image, network: tenant, external, routed: routed.has(tenant.id) };
}

/** Polls `read` until `done` holds, or fails at the deadline with the last value seen. */
export async function waitFor<T>(
  cut: Pick<CloudUnderTest, "pollMs">,
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 500)}`);
    }
    await new Promise((r) => setTimeout(r, cut.pollMs));
  }
}

/** Waits until `read` fails with not_found. */
export async function waitGone(
  cut: Pick<CloudUnderTest, "pollMs">,
  what: string,
  read: () => Promise<unknown>,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    cut,
    `${what} to be gone`,
    async () => {
      try {
        return await read();
      } catch (err) {
        if (isCloudError(err, "not_found")) return "gone";
        throw err;
      }
    },
    (v) => v === "gone",
    timeoutMs,
  );
}
