// POST /servers/{id}/remote-consoles (2.6+): a console through Nova's own proxy. As a Nova
// with its defaults ([vnc] enabled, [spice] disabled): vnc/novnc answers the noVNC proxy's URL
// with a fresh token, spice answers 400 "Unavailable console type"; a server not yet on a
// host (building) is 409 InstanceNotReady. The simulator serves no proxy at that URL: the
// URL is what rs-server hands on, as it would a real one.
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { badRequest, conflict, notFound } from "./errors.ts";
import { call, type NovaEnv } from "./scope.ts";
import { visibleServer } from "./servers.ts";

const PROTOCOLS = ["vnc", "spice", "rdp", "serial"];
const TYPES = ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial"];
/** Which console types each protocol's handler in Nova accepts. */
const TYPES_OF: Record<string, string[]> = {
  vnc: ["novnc", "xvpvnc"],
  spice: ["spice-html5"],
  rdp: ["rdp-html5"],
  serial: ["serial"],
};
const ENABLED = new Set(["novnc"]);

function schemaError(message: string) {
  return badRequest(`Invalid input for field/attribute remote_console. Value: ${message}`);
}

export function remoteConsoleRoutes(app: FastifyInstance, env: NovaEnv): void {
  app.post<{ Params: { id: string } }>("/v2.1/servers/:id/remote-consoles", async (req) => {
    // Before 2.6 the resource does not exist: Nova answers as for an unknown URL.
    if (call(req).minor < 6) throw notFound("The resource could not be found.");
    const body = (req.body ?? {}) as { remote_console?: { protocol?: unknown; type?: unknown } };
    const rc = body.remote_console;
    if (!rc || typeof rc !== "object") {
      throw badRequest(
        "Invalid input for field/attribute remote_console. 'remote_console' is a required property",
      );
    }
    if (typeof rc.protocol !== "string" || !PROTOCOLS.includes(rc.protocol)) {
      throw schemaError(
        `${JSON.stringify(rc.protocol)}. 'protocol' is not one of ${JSON.stringify(PROTOCOLS)}`,
      );
    }
    if (typeof rc.type !== "string" || !TYPES.includes(rc.type)) {
      throw schemaError(`${JSON.stringify(rc.type)}. 'type' is not one of ${JSON.stringify(TYPES)}`);
    }
    const extra = Object.keys(rc).filter((k) => k !== "protocol" && k !== "type");
    if (extra.length)
      throw schemaError(`Additional properties are not allowed ('${extra[0]}' was unexpected)`);
    const server = visibleServer(env, req, req.params.id);
    if (!server.host || server.vm_state === "building") {
      throw conflict(`Instance ${server.id} is not ready`);
    }
    if (!TYPES_OF[rc.protocol]!.includes(rc.type)) throw badRequest(`Invalid console type ${rc.type}`);
    if (!ENABLED.has(rc.type)) throw badRequest(`Unavailable console type ${rc.type}.`);
    const base = new URL(env.root()).origin.replace(/:\d+$/, "");
    const url = `${base}:6080/vnc_auto.html?path=%3Ftoken%3D${randomUUID()}`;
    return { remote_console: { protocol: rc.protocol, type: rc.type, url } };
  });
}
