// The simulated cloud behind Keystone: Nova, Neutron, Cinder and Glance sharing one world
// (servers own Neutron ports and attach Cinder volumes) and one timeline that drives every
// asynchronous transition with a single timer, however many servers are building.
import type { FastifyInstance } from "fastify";
import { registerCinder } from "./cinder/service.ts";
import { CinderState } from "./cinder/state.ts";
import type { SimContext } from "./context.ts";
import { registerGlance } from "./glance/service.ts";
import { GlanceState, newImage } from "./glance/state.ts";
import { intToIp, parseCidr } from "./neutron/ipam.ts";
import { addInterface, setGateway } from "./neutron/routers.ts";
import { registerNeutron } from "./neutron/service.ts";
import { NeutronState, stamp } from "./neutron/state.ts";
import { arm } from "./nova/lifecycle.ts";
import type { NovaEnv } from "./nova/scope.ts";
import { registerNova } from "./nova/service.ts";
import { NovaState } from "./nova/state.ts";
import { SERVICE_PREFIX } from "./server.ts";

/** What seeding the cloud side creates: the flavor, image, networks and volume type to use. */
export interface CloudSeed {
  flavorId: string;
  flavorName: string;
  imageId: string;
  networkId: string;
  subnetId: string;
  externalNetworkId: string;
  volumeTypeId: string;
}

export interface CloudSim {
  register(app: FastifyInstance): Promise<void>;
  seed(input: { adminProjectId: string; demoProjectId: string }): CloudSeed;
  snapshot(): unknown;
  restore(state: unknown): void;
}

interface Entry {
  due: number;
  seq: number;
  run: () => void;
}

/** A min-heap of due callbacks behind one timer, re-armed to the earliest entry. */
class Timeline {
  private heap: Entry[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private closed = false;

  schedule = (due: number, run: () => void): void => {
    this.push({ due, seq: this.seq++, run });
    if (due < this.timerDue) this.arm();
  };

  clear(): void {
    this.heap = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
  }

  close(): void {
    this.closed = true;
    this.clear();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    const top = this.heap[0];
    if (!top || this.closed) return;
    this.timerDue = top.due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, top.due - Date.now()));
    // The simulator's clock must never keep a process (or a test run) alive on its own.
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.heap[0] && this.heap[0].due <= now) {
      const e = this.pop()!;
      try {
        e.run();
      } catch {
        // A transition that fails leaves its record as it was; the others still run.
      }
    }
    this.arm();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || !last) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
}

const SEED_FLAVORS = [
  { id: "1", name: "m1.tiny", vcpus: 1, ram: 512, disk: 1 },
  { id: "2", name: "m1.small", vcpus: 1, ram: 2048, disk: 20 },
  { id: "3", name: "m1.medium", vcpus: 2, ram: 4096, disk: 40 },
  { id: "4", name: "m1.large", vcpus: 4, ram: 8192, disk: 80 },
  { id: "5", name: "m1.xlarge", vcpus: 8, ram: 16384, disk: 160 },
];

/** The flavor seed() hands out for desktops. */
const DESKTOP_FLAVOR = SEED_FLAVORS[1]!;

interface Snapshot {
  format: 1;
  nova: ReturnType<NovaState["toJSON"]>;
  neutron: ReturnType<NeutronState["toJSON"]>;
  cinder: ReturnType<CinderState["toJSON"]>;
  glance: ReturnType<GlanceState["toJSON"]>;
}

/**
 * The seeded private subnet, where instances get their fixed IPs: 10.0.0.0/16 by default, or
 * the range the simulator was told its instances answer at (a loopback range in tests, so that
 * a VNC server a test starts on 127.x.y.z stands in for the desktop at that address).
 */
function instanceSubnet(cidr = "10.0.0.0/16"): { cidr: string; gateway: string } {
  const parsed = parseCidr(cidr);
  if (!parsed || parsed.size < 4)
    throw new Error(`simulator instanceCidr ${cidr} is not an IPv4 subnet with hosts`);
  return { cidr, gateway: intToIp(parsed.network + 1) };
}

export function createCloudSim(ctx: SimContext): CloudSim {
  const timeline = new Timeline();
  const nova = new NovaState();
  const neutron = new NeutronState();
  const glance = new GlanceState();
  const cinder = new CinderState(timeline.schedule, () => ctx.options.volumeDelayMs);
  const env: NovaEnv = {
    ctx,
    state: nova,
    neutron,
    cinder,
    glance,
    schedule: timeline.schedule,
    root: () => `${ctx.baseUrl()}${SERVICE_PREFIX.compute}`,
  };

  return {
    async register(app) {
      app.addHook("onClose", async () => timeline.close());
      await registerNova(app, env, SERVICE_PREFIX.compute);
      await registerNeutron(app, ctx, neutron, SERVICE_PREFIX.network);
      await registerCinder(app, ctx, cinder, SERVICE_PREFIX.volumev3);
      await registerGlance(app, ctx, glance, SERVICE_PREFIX.image);
      // A control (admin token, control-auth.ts): a new public, active image, as an operator
      // uploads a new golden image (the roll-out tests need a second one).
      app.post("/sim/images", async (req, reply) => {
        const body = (req.body ?? {}) as { name?: unknown };
        if (typeof body.name !== "string" || body.name === "" || body.name.length > 255)
          return reply.code(400).send({ error: "name must be a string of 1 to 255 characters" });
        const owner = [...glance.images.values()][0]?.owner ?? "";
        const image = glance.add(newImage({ name: body.name, owner }));
        return reply.code(201).send({ id: image.id, name: image.name });
      });
    },

    seed({ adminProjectId, demoProjectId }) {
      for (const f of SEED_FLAVORS) {
        nova.flavors.set(f.id, {
          ...f,
          ephemeral: 0,
          swap: 0,
          rxtx_factor: 1,
          is_public: true,
          disabled: false,
          description: null,
          extra_specs: {},
        });
      }
      const image = glance.add(
        newImage({
          name: "cirros-0.6.2-x86_64-disk",
          owner: adminProjectId,
          properties: { os_distro: "cirros", hw_rng_model: "virtio" },
        }),
      );
      const privateCidr = instanceSubnet(ctx.options.instanceCidr);
      const privateNet = neutron.addNetwork({
        ...stamp(adminProjectId),
        name: "private",
        admin_state_up: true,
        shared: true,
        "router:external": false,
        is_default: false,
        mtu: 1450,
        "provider:network_type": "vxlan",
        "provider:physical_network": null,
        "provider:segmentation_id": 1001,
      });
      const privateSubnet = neutron.addSubnet({
        ...stamp(adminProjectId),
        name: "private-subnet",
        network_id: privateNet.id,
        cidr: privateCidr.cidr,
        gateway_ip: privateCidr.gateway,
        allocation_pools: [],
        enable_dhcp: true,
        dns_nameservers: [],
        host_routes: [],
        ip_cursor: 0,
      });
      const publicNet = neutron.addNetwork({
        ...stamp(adminProjectId),
        name: "public",
        admin_state_up: true,
        shared: false,
        "router:external": true,
        is_default: true,
        mtu: 1500,
        "provider:network_type": "flat",
        "provider:physical_network": "public",
        "provider:segmentation_id": null,
      });
      neutron.addSubnet({
        ...stamp(adminProjectId),
        name: "public-subnet",
        network_id: publicNet.id,
        cidr: "172.24.4.0/22",
        gateway_ip: "172.24.4.1",
        allocation_pools: [],
        enable_dhcp: false,
        dns_nameservers: [],
        host_routes: [],
        ip_cursor: 0,
      });
      const router = neutron.addRouter({
        ...stamp(adminProjectId),
        name: "router1",
        admin_state_up: true,
        status: "ACTIVE",
        external_gateway_info: null,
      });
      setGateway(neutron, router, publicNet.id);
      addInterface(neutron, router, privateSubnet.id, true);
      neutron.ensureDefaultGroup(adminProjectId);
      neutron.ensureDefaultGroup(demoProjectId);
      const typeId = crypto.randomUUID();
      cinder.types.set(typeId, {
        id: typeId,
        name: "__DEFAULT__",
        description: "Default Volume Type",
        is_public: true,
        extra_specs: {},
      });
      return {
        flavorId: DESKTOP_FLAVOR.id,
        flavorName: DESKTOP_FLAVOR.name,
        imageId: image.id,
        networkId: privateNet.id,
        subnetId: privateSubnet.id,
        externalNetworkId: publicNet.id,
        volumeTypeId: typeId,
      };
    },

    snapshot(): Snapshot {
      // A deep copy through JSON: the caller may keep or write it while the world moves on.
      return JSON.parse(
        JSON.stringify({
          format: 1,
          nova: nova.toJSON(),
          neutron: neutron.toJSON(),
          cinder: cinder.toJSON(),
          glance: glance.toJSON(),
        }),
      );
    },

    restore(raw) {
      const s = raw as Partial<Snapshot> | undefined;
      if (s?.format !== 1) throw new Error("not a cloud simulator snapshot (format 1)");
      timeline.clear();
      neutron.load(s.neutron!);
      glance.load(s.glance!);
      cinder.load(s.cinder!);
      // Servers caught mid-transition (BUILD, deleting, ...) carry their due time; they resume.
      for (const server of nova.load(s.nova!)) if (server.pending) arm(env, server);
    },
  };
}
