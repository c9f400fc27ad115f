// One simulator per test file: started before the file's first test on a free port, stopped
// after its last. Also a raw HTTP caller for wire-level assertions.
import { after, before } from "node:test";
import {
  type SimulatorHandle,
  type StartSimulatorOptions,
  startSimulator,
} from "../../src/simulator/server.ts";

/** Starts the simulator for this test file; call the returned function inside tests. */
export function useSimulator(opts: StartSimulatorOptions = {}): () => SimulatorHandle {
  let sim: SimulatorHandle | undefined;
  before(async () => {
    sim = await startSimulator({ port: 0, ...opts });
  });
  after(async () => {
    await sim?.stop();
  });
  return () => {
    if (!sim) throw new Error("the simulator is not started (use it inside a test)");
    return sim;
  };
}

export interface WireResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** A raw call to the simulated Keystone (path relative to /identity/v3). */
export async function identity(
  sim: SimulatorHandle,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<WireResponse> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  if (opts.token) headers["X-Auth-Token"] = opts.token;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${sim.authUrl}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** A password auth request body, scoped to a project by name unless `scope` says otherwise. */
export function passwordAuth(
  user: { name: string; domain: string } | { id: string },
  password: string,
  scope?: unknown,
) {
  const u = "id" in user ? { id: user.id } : { name: user.name, domain: { name: user.domain } };
  return {
    auth: {
      identity: { methods: ["password"], password: { user: { ...u, password } } },
      ...(scope === undefined ? {} : { scope }),
    },
  };
}

/** Logs in as the seeded admin, scoped to the admin project; returns the token. */
export async function adminToken(sim: SimulatorHandle): Promise<string> {
  const res = await identity(sim, "POST", "/auth/tokens", {
    body: passwordAuth({ name: sim.admin.username, domain: sim.admin.userDomainName }, sim.admin.password, {
      project: { name: sim.admin.projectName, domain: { name: sim.admin.projectDomainName } },
    }),
  });
  if (res.status !== 201) throw new Error(`admin login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.headers.get("x-subject-token")!;
}
