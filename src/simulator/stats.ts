// Request counts per service and per route, for benchmarks that report how many OpenStack calls
// an operation of rs-server costs (`GET /sim/stats`; `DELETE /sim/stats` starts again from 0).
import type { FastifyInstance } from "fastify";

export interface SimStats {
  total: number;
  /** By the first segment of the path: identity, compute, network, volume, image. */
  services: Record<string, number>;
  /** By method and route pattern, e.g. "POST /identity/v3/auth/tokens". */
  routes: Record<string, number>;
}

export function registerStats(app: FastifyInstance): void {
  let stats: SimStats = { total: 0, services: {}, routes: {} };
  app.addHook("onResponse", async (req) => {
    const path = req.url;
    if (path.startsWith("/sim/")) return;
    const service = path.split("/")[1] ?? "";
    const route = `${req.method} ${req.routeOptions.url ?? "(no route)"}`;
    stats.total++;
    stats.services[service] = (stats.services[service] ?? 0) + 1;
    stats.routes[route] = (stats.routes[route] ?? 0) + 1;
  });
  app.get("/sim/stats", async () => stats);
  app.delete("/sim/stats", async (_req, reply) => {
    stats = { total: 0, services: {}, routes: {} };
    return reply.code(204).send();
  });
}
