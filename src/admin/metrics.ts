// GET /metrics on the admin port: Prometheus text, no token (scrapers rarely carry tokens),
// only to the addresses of monitoring.allowedFrom. httpMetrics adds the HTTP latency by route to
// any app (the admin and the broker): the route's pattern, never the raw URL, keeps the
// label set bounded.

import { type Metrics, metrics as processMetrics } from "../core/metrics.ts";
import type { App } from "../http/app.ts";
import { envelope } from "../http/errors.ts";
import type { MetricsSnapshot } from "../shared/types.ts";

export interface MetricsRouteOptions {
  snapshot: () => Promise<MetricsSnapshot>;
  metrics?: Metrics;
  /** reserve.leadSeconds: the reserve target in effect looks this far ahead. */
  leadSeconds?: number;
}

export function metricsRoute(app: App, options: MetricsRouteOptions): void {
  const m = options.metrics ?? processMetrics;
  app.get("/metrics", { schema: { hide: true } }, async (req, reply) => {
    if (!app.monitoringAllowed(req.ip))
      return reply
        .code(403)
        .send(
          envelope(403, "Forbidden", "Metrics are served only to the addresses of monitoring.allowedFrom."),
        );
    const text = await m.render(await options.snapshot(), { leadSeconds: options.leadSeconds });
    reply.header("content-type", m.contentType);
    return text;
  });
}

export function httpMetrics(app: App, name: string, metrics: Metrics = processMetrics): void {
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    metrics.observeHttp(name, req.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
}
