// What a benchmark needs from OpenStack, spoken over HTTP as any client would: the admin's
// token and catalog, users with a role on a project, quotas.
import { post } from "./client.ts";

export interface Catalog {
  token: string;
  endpoint(type: string): string;
}

export async function json(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { text };
  }
}

async function ok(res: Response, what: string): Promise<any> {
  const body = await json(res);
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function adminSession(
  authUrl: string,
  admin: { username: string; password: string },
): Promise<Catalog> {
  const res = await authenticate(authUrl, admin.username, admin.password, {
    project: { name: "admin", domain: { id: "default" } },
  });
  const body = await ok(res, "admin token");
  const token = res.headers.get("x-subject-token")!;
  const catalog = body.token.catalog as { type: string; endpoints: { interface: string; url: string }[] }[];
  return {
    token,
    endpoint(type) {
      const url = catalog.find((c) => c.type === type)?.endpoints.find((e) => e.interface === "public")?.url;
      if (!url) throw new Error(`no ${type} endpoint`);
      return url.replace(/\/$/, "");
    },
  };
}

export async function call(c: Catalog, type: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${c.endpoint(type)}${path}`, {
    method,
    headers: {
      "X-Auth-Token": c.token,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return ok(res, `${method} ${type}${path}`);
}

/** Runs fn over items with at most `limit` in flight. */
export async function inParallel<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

export interface BenchUser {
  id: string;
  name: string;
  password: string;
}

/** `count` users in the Default domain, each with the member role on the project. */
export async function createUsers(c: Catalog, projectId: string, count: number, prefix: string) {
  const roles = await call(c, "identity", "GET", "/roles?name=member");
  const member = roles.roles[0].id as string;
  return inParallel(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i): Promise<BenchUser> => {
      const name = `${prefix}-${i}`;
      const password = `pw-${prefix}-${i}`;
      const made = await call(c, "identity", "POST", "/users", {
        user: { name, password, domain_id: "default" },
      });
      const id = made.user.id as string;
      const res = await fetch(`${c.endpoint("identity")}/projects/${projectId}/users/${id}/roles/${member}`, {
        method: "PUT",
        headers: { "X-Auth-Token": c.token },
      });
      if (!res.ok) throw new Error(`grant member: HTTP ${res.status}`);
      return { id, name, password };
    },
  );
}

/** The project may hold `instances` servers, with cores and RAM unlimited. */
export async function setComputeQuota(c: Catalog, projectId: string, instances: number) {
  await call(c, "compute", "PUT", `/os-quota-sets/${projectId}`, {
    quota_set: { instances, cores: -1, ram: -1 },
  });
}

/** A password authentication in the Default domain, scoped when `scope` is given. */
function authenticate(authUrl: string, name: string, password: string, scope?: unknown): Promise<Response> {
  return fetch(`${authUrl}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name, domain: { id: "default" }, password } },
        },
        ...(scope ? { scope } : {}),
      },
    }),
  });
}

/** A password authentication as the broker does it (unscoped), for the baseline. */
export async function passwordAuth(authUrl: string, u: BenchUser): Promise<number> {
  const res = await post(`${authUrl}/auth/tokens`, {
    auth: {
      identity: {
        methods: ["password"],
        password: { user: { name: u.name, domain: { id: "default" }, password: u.password } },
      },
    },
  });
  return res.status;
}
