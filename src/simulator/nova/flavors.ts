// /flavors and /os-availability-zone.
import type { FastifyInstance } from "fastify";
import { notFound, policyDenied } from "./errors.ts";
import { call, first, type NovaEnv, type Query } from "./scope.ts";
import { flavorSummary, flavorView } from "./views.ts";

export function flavorRoutes(app: FastifyInstance, env: NovaEnv): void {
  const listed = (q: Query, admin: boolean) => {
    const minDisk = Number(first(q.minDisk) ?? 0);
    const minRam = Number(first(q.minRam) ?? 0);
    const isPublic = first(q.is_public);
    return [...env.state.flavors.values()]
      .filter((f) => !f.disabled && f.disk >= minDisk && f.ram >= minRam)
      .filter((f) =>
        isPublic === undefined || !admin
          ? f.is_public || admin
          : String(f.is_public) === isPublic.toLowerCase(),
      )
      .sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  };
  app.get("/v2.1/flavors", async (req) => {
    const c = call(req);
    return { flavors: listed(req.query as Query, c.admin).map((f) => flavorSummary(env, f, c)) };
  });
  app.get("/v2.1/flavors/detail", async (req) => {
    const c = call(req);
    return { flavors: listed(req.query as Query, c.admin).map((f) => flavorView(env, f, c)) };
  });
  app.get<{ Params: { id: string } }>("/v2.1/flavors/:id", async (req) => {
    const f = env.state.flavors.get(req.params.id);
    if (!f) throw notFound(`Flavor ${req.params.id} could not be found.`);
    return { flavor: flavorView(env, f, call(req)) };
  });
  app.get<{ Params: { id: string } }>("/v2.1/flavors/:id/os-extra_specs", async (req) => {
    const f = env.state.flavors.get(req.params.id);
    if (!f) throw notFound(`Flavor ${req.params.id} could not be found.`);
    return { extra_specs: { ...f.extra_specs } };
  });

  app.get("/v2.1/os-availability-zone", async () => ({
    availabilityZoneInfo: [{ zoneName: "nova", zoneState: { available: true }, hosts: null }],
  }));
  app.get("/v2.1/os-availability-zone/detail", async (req) => {
    if (!call(req).admin) throw policyDenied("os_compute_api:os-availability-zone:detail");
    return {
      availabilityZoneInfo: [
        {
          zoneName: "nova",
          zoneState: { available: true },
          hosts: {
            "sim-compute-1": {
              "nova-compute": {
                available: true,
                active: true,
                updated_at: new Date().toISOString().replace("Z", "000"),
              },
            },
          },
        },
        {
          zoneName: "internal",
          zoneState: { available: true },
          hosts: {
            "sim-controller": {
              "nova-conductor": {
                available: true,
                active: true,
                updated_at: new Date().toISOString().replace("Z", "000"),
              },
              "nova-scheduler": {
                available: true,
                active: true,
                updated_at: new Date().toISOString().replace("Z", "000"),
              },
            },
          },
        },
      ],
    };
  });
}
