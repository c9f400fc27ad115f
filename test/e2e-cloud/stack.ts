// rs-server end to end against a cloud: the runtime (both APIs on loopback, background work
// on, a fresh test database) started against either
//  - the cloud named by RS_CONTRACT_CLOUD=<clouds.yaml>#<admin cloud> (as the contract suite
//    reads it), rs-server itself then running as its own service account: the cloud
//    RS_E2E_SERVICE_CLOUD of the same clouds.yaml when set, else `<admin cloud>-rs-server`
//    (openstack-lite writes `openstack-lite` and `openstack-lite-rs-server` side by side);
//  - or, when RS_CONTRACT_CLOUD is unset, a fresh built-in simulator, whose admin is both.
// The test drives rs-server through its HTTP APIs only; `admin` is the cloud's admin side,
// for setup (users, floating IPs) and for checking what rs-server did in the cloud.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import pino from "pino";
import { type Cloud, createCloud } from "../../src/cloud/cloud.ts";
import { KeystoneClient } from "../../src/cloud/keystone.ts";
import { type CloudCredentials, CloudSession } from "../../src/cloud/session.ts";
import { loadConfig } from "../../src/config/load.ts";
import { type Runtime, startRuntime } from "../../src/runtime.ts";
import type { SimulatorHandle } from "../../src/simulator/server.ts";
import { fromCloudsYaml, simulatorCredentials } from "../contract/cloud-under-test.ts";
import { createTestStore } from "../helpers/db.ts";

export interface E2eStack {
  kind: "simulator" | "clouds.yaml";
  runtime: Runtime;
  adminUrl: string;
  brokerUrl: string;
  /** The cloud's admin: Keystone, Nova, Neutron, Cinder, Glance as the admin cloud sees them. */
  admin: Cloud & { keystone: KeystoneClient };
  /** A project-scoped admin token for rs-server's admin API. */
  adminToken(): Promise<string>;
  /** Makes the user's current password expired now (real Keystone has no API for it). */
  expirePassword(user: { id: string; password: string }): Promise<void>;
  /** A new public, active image (a golden image for the roll-out); answers its id. */
  addImage(name: string): Promise<string>;
  removeImage(id: string): Promise<void>;
  /** Bounds for waits on this target (guards against hanging, not performance bounds). */
  buildTimeoutMs: number;
  pollMs: number;
  stop(): Promise<void>;
}

const run = promisify(execFile);
const OSL_EXPIRE = new URL("../../scripts/openstack-lite/expire-password.sh", import.meta.url).pathname;

export const uniqueName = (prefix: string) => `rse2e-${prefix}-${randomBytes(4).toString("hex")}`;

export async function startE2eStack(overrides: Record<string, unknown> = {}): Promise<E2eStack> {
  const spec = process.env.RS_CONTRACT_CLOUD;
  const store = await createTestStore();
  let sim: SimulatorHandle | undefined;
  let adminCreds: CloudCredentials;
  let openstack: Record<string, unknown>;
  if (spec) {
    const hash = spec.lastIndexOf("#");
    const file = spec.slice(0, hash);
    const adminCloud = spec.slice(hash + 1);
    adminCreds = fromCloudsYaml(spec);
    const serviceCloud = process.env.RS_E2E_SERVICE_CLOUD || `${adminCloud}-rs-server`;
    openstack = { cloud: serviceCloud, cloudsFile: file, timeoutMs: 30_000 };
  } else {
    const { startSimulator } = await import("../../src/simulator/server.ts");
    sim = await startSimulator({ port: 0, options: { buildDelayMs: 300, volumeDelayMs: 50 } });
    adminCreds = simulatorCredentials(sim.admin);
    openstack = {};
  }
  const real = !!spec;
  const config = loadConfig({
    env: {},
    overrides: {
      admin: { port: 0 },
      broker: { port: 0 },
      portal: { port: 0 },
      openstack,
      // Desktops are ready once ACTIVE, as the flows were written (readiness has its own tests).
      reserve: { intervalSeconds: 1, readiness: { mode: "none" } },
      reconcile: { intervalSeconds: 2 },
      allocation: { pollIntervalMs: real ? 500 : 50, buildTimeoutSeconds: real ? 180 : 30 },
      ...overrides,
    },
  });
  let runtime: Runtime;
  try {
    runtime = await startRuntime(config, { store, simulator: sim, logger: pino({ level: "silent" }) });
  } catch (err) {
    await store.close();
    await sim?.stop();
    throw err;
  }
  const session = new CloudSession(adminCreds);
  const admin = { ...createCloud(session), keystone: new KeystoneClient(session) };
  return {
    kind: real ? "clouds.yaml" : "simulator",
    runtime,
    adminUrl: runtime.adminUrl!,
    brokerUrl: runtime.brokerUrl!,
    admin,
    adminToken: () => session.token(),
    async expirePassword(user) {
      if (sim) {
        // The simulator's test hook: a password an admin sets is expired at once (Keystone's
        // change_password_upon_first_use); set the same one back with the hook on.
        const settings = sim.keystoneSettings;
        const before = {
          first: settings.changePasswordUponFirstUse,
          unique: settings.uniqueLastPasswordCount,
        };
        settings.changePasswordUponFirstUse = true;
        settings.uniqueLastPasswordCount = 0;
        try {
          await admin.keystone.updateUser(user.id, { password: user.password });
        } finally {
          settings.changePasswordUponFirstUse = before.first;
          settings.uniqueLastPasswordCount = before.unique;
        }
        return;
      }
      if (!existsSync(OSL_EXPIRE)) throw new Error(`no ${OSL_EXPIRE}`);
      const stateDir = spec!.slice(0, spec!.lastIndexOf("#")).replace(/\/clouds\.yaml$/, "");
      await run(OSL_EXPIRE, [user.id], { env: { ...process.env, OSL_STATE_DIR: stateDir } });
    },
    async addImage(name) {
      const token = await session.token();
      if (sim) {
        const res = await fetch(`${sim.url}/sim/images`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-Auth-Token": token },
          body: JSON.stringify({ name }),
        });
        if (res.status !== 201) throw new Error(`/sim/images: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { id: string }).id;
      }
      // As scripts/openstack-lite/bootstrap.py makes its image: the fake hypervisor never
      // reads it, a mebibyte of zeros is a disk as good as any.
      const glance = (await session.endpoint("image")).replace(/\/+$/, "");
      const created = await fetch(`${glance}/v2/images`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Auth-Token": token },
        body: JSON.stringify({
          name,
          disk_format: "raw",
          container_format: "bare",
          visibility: "public",
          min_disk: 0,
          min_ram: 0,
        }),
      });
      if (created.status !== 201)
        throw new Error(`Glance image create: ${created.status} ${await created.text()}`);
      const { id } = (await created.json()) as { id: string };
      const upload = await fetch(`${glance}/v2/images/${id}/file`, {
        method: "PUT",
        headers: { "Content-Type": "application/octet-stream", "X-Auth-Token": token },
        body: new Uint8Array(1 << 20),
      });
      if (upload.status !== 204)
        throw new Error(`Glance image upload: ${upload.status} ${await upload.text()}`);
      for (let i = 0; i < 120; i++) {
        if ((await admin.glance.getImage(id)).status === "active") return id;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`image ${id} not active`);
    },
    async removeImage(id) {
      if (sim) return;
      const glance = (await session.endpoint("image")).replace(/\/+$/, "");
      await fetch(`${glance}/v2/images/${id}`, {
        method: "DELETE",
        headers: { "X-Auth-Token": await session.token() },
      });
    },
    buildTimeoutMs: real ? 180_000 : 30_000,
    pollMs: real ? 1000 : 100,
    async stop() {
      await runtime.stop();
      await store.close();
      await sim?.stop();
    },
  };
}
