// Compute API microversions: read from `OpenStack-API-Version: compute 2.x` or the legacy
// `X-OpenStack-Nova-API-Version`, echoed back in both headers as Nova does.
import type { FastifyReply, FastifyRequest } from "fastify";
import { NovaFault } from "./errors.ts";

export const MIN_MINOR = 1;
/** Zed's maximum compute microversion. */
export const MAX_MINOR = 93;

export function negotiate(req: FastifyRequest): number {
  const modern = req.headers["openstack-api-version"];
  const legacy = req.headers["x-openstack-nova-api-version"];
  let value: string | undefined;
  if (typeof modern === "string") {
    const entry = modern
      .split(",")
      .map((s) => s.trim().split(/\s+/))
      .find(([service]) => service?.toLowerCase() === "compute");
    value = entry?.[1];
  }
  if (value === undefined && typeof legacy === "string") value = legacy.trim();
  if (value === undefined) return MIN_MINOR;
  if (value === "latest") return MAX_MINOR;
  const m = /^(\d+)\.(\d+)$/.exec(value);
  if (!m) {
    throw new NovaFault(
      400,
      `API Version String ${value} is of invalid format. Must be of format MajorNum.MinorNum.`,
    );
  }
  const minor = Number(m[2]);
  if (m[1] !== "2" || minor < MIN_MINOR || minor > MAX_MINOR) {
    throw new NovaFault(
      406,
      `Version ${value} is not supported by the API. Minimum is 2.${MIN_MINOR} and maximum is 2.${MAX_MINOR}.`,
    );
  }
  return minor;
}

export function echo(reply: FastifyReply, minor: number): void {
  reply
    .header("openstack-api-version", `compute 2.${minor}`)
    .header("x-openstack-nova-api-version", `2.${minor}`)
    .header("vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
}
