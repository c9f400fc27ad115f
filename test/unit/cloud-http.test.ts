// ServiceHttp against a tiny local HTTP server: retries, timeouts, re-auth, and how each
// OpenStack service's error body becomes a CloudError kind. Also the clients' wiring that
// needs no cloud: microversion headers per service, paging, typed conflicts, headroom.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { createCloud } from "../../src/cloud/cloud.ts";
import { CloudError, classify, isCloudError, ServiceHttp } from "../../src/cloud/http.ts";
import { NeutronClient, SecurityGroupRuleExistsError } from "../../src/cloud/neutron.ts";
import { headroomFor, NovaClient } from "../../src/cloud/nova.ts";
import { CloudSession } from "../../src/cloud/session.ts";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

type Handler = (req: Seen, res: ServerResponse) => void;

let server: Server;
let base: string;
let handler: Handler;
let seen: Seen[];

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const s = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen = [];
  handler = (_req, res) => json(res, 200, {});
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function http(opts: Partial<ConstructorParameters<typeof ServiceHttp>[0]> = {}) {
  return new ServiceHttp({
    service: "compute",
    endpoint: async () => base,
    timeoutMs: 2000,
    retries: 2,
    ...opts,
  });
}

async function failure(p: Promise<unknown>): Promise<CloudError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CloudError, `expected a CloudError, got ${err}`);
    return err;
  }
  assert.fail("expected the call to fail");
}

describe("ServiceHttp retries", () => {
  test("a GET answered 503 is retried until it succeeds", async () => {
    let calls = 0;
    handler = (_req, res) =>
      ++calls < 3 ? json(res, 503, { message: "busy" }) : json(res, 200, { ok: true });
    assert.deepEqual(await http().get("/servers"), { ok: true });
    assert.equal(calls, 3);
  });

  test("a GET that keeps failing gives up after its bounded retries with unavailable", async () => {
    handler = (_req, res) => json(res, 503, { message: "busy" });
    const err = await failure(http({ retries: 1 }).get("/servers"));
    assert.equal(err.kind, "unavailable");
    assert.equal(err.status, 503);
    assert.equal(seen.length, 2);
  });

  test("a POST answered 503 is not retried (it may have been applied)", async () => {
    handler = (_req, res) => json(res, 503, { message: "busy" });
    const err = await failure(http().post("/servers", { server: {} }));
    assert.equal(err.kind, "unavailable");
    assert.equal(seen.length, 1);
  });

  test("a 4xx answer to a GET is final, not retried", async () => {
    handler = (_req, res) =>
      json(res, 404, { itemNotFound: { code: 404, message: "Instance x could not be found." } });
    const err = await failure(http().get("/servers/x"));
    assert.equal(err.kind, "not_found");
    assert.equal(seen.length, 1);
  });

  test("a request that outlives its timeout is unavailable", async () => {
    handler = () => {};
    const err = await failure(http({ timeoutMs: 150, retries: 0 }).get("/slow"));
    assert.equal(err.kind, "unavailable");
    assert.match(err.message, /timed out/);
  });

  test("a refused connection is unavailable", async () => {
    const dead = new ServiceHttp({
      service: "image",
      endpoint: async () => "http://127.0.0.1:1",
      timeoutMs: 1000,
      retries: 0,
    });
    assert.equal((await failure(dead.get("/v2/images"))).kind, "unavailable");
  });
});

describe("ServiceHttp transport (node:http, src/cloud/transport.ts)", () => {
  test("a redirect is followed, with the method kept (307) or turned to GET (303)", async () => {
    handler = (req, res) => {
      if (req.url === "/old") return json(res, 307, {}, { Location: "/new" });
      if (req.url === "/post-old") return json(res, 303, {}, { Location: "/done" });
      json(res, 200, { at: req.url, method: req.method, body: req.body }, { "X-Subject-Token": "t-1" });
    };
    const kept = await http().request("POST", "/old", { body: { a: 1 } });
    assert.deepEqual(kept.body, { at: "/new", method: "POST", body: '{"a":1}' });
    assert.equal(kept.headers.get("x-subject-token"), "t-1");
    assert.deepEqual(await http().post("/post-old", { a: 1 }), { at: "/done", method: "GET", body: "" });
  });

  test("a header value that cannot be sent is the input's fault, and the value is not repeated", async () => {
    const err = await failure(http().get("/x", { headers: { "X-Auth-Token": "tok\r\nX-Evil: 1" } }));
    assert.equal(err.kind, "bad_request");
    assert.doesNotMatch(err.message, /tok|Evil/);
    assert.equal(seen.length, 0);
  });

  test("kept-alive connections carry many calls", async () => {
    const ports = new Set<number>();
    handler = (_req, res) => {
      ports.add(res.socket?.remotePort ?? 0);
      json(res, 200, {});
    };
    for (let i = 0; i < 5; i++) await http().get("/x");
    assert.equal(ports.size, 1);
  });
});

describe("ServiceHttp paths", () => {
  for (const id of ["..", ".", "%2e%2E", ".%2e"]) {
    test(`an id of "${id}" is not_found without a request (fetch would resolve it to another resource)`, async () => {
      const err = await failure(http().get(`/servers/${id}`));
      assert.equal(err.kind, "not_found");
      const err2 = await failure(http().delete(`/projects/${id}/tags/x`));
      assert.equal(err2.kind, "not_found");
      assert.equal(seen.length, 0);
    });
  }

  test("dots inside an id are an id like any other", async () => {
    await http().get("/images/a..b");
    await http().get("/images/...");
    assert.deepEqual(
      seen.map((s) => s.url),
      ["/images/a..b", "/images/..."],
    );
  });
});

describe("ServiceHttp authentication", () => {
  test("a 401 fetches a fresh token once and replays the request with it", async () => {
    const asked: boolean[] = [];
    handler = (req, res) =>
      req.headers["x-auth-token"] === "fresh"
        ? json(res, 200, { ok: 1 })
        : json(res, 401, { error: { code: 401 } });
    const h = http({
      token: async (force) => {
        asked.push(!!force);
        return force ? "fresh" : "stale";
      },
    });
    assert.deepEqual(await h.post("/servers", {}), { ok: 1 });
    assert.deepEqual(asked, [false, true]);
    assert.deepEqual(
      seen.map((s) => s.headers["x-auth-token"]),
      ["stale", "fresh"],
    );
  });

  test("a 401 with the fresh token too is unauthorized, not a loop", async () => {
    handler = (_req, res) =>
      json(res, 401, { error: { code: 401, message: "The request you have made requires authentication." } });
    const err = await failure(http({ token: async () => "t" }).get("/servers"));
    assert.equal(err.kind, "unauthorized");
    assert.equal(seen.length, 2);
  });

  test("sends JSON with the token, the service headers and array queries repeated", async () => {
    handler = (_req, res) => json(res, 200, {});
    await http({ token: async () => "tok", headers: { "X-Extra": "1" } }).request("PUT", "/x", {
      body: { a: 1 },
      query: { id: ["a", "b"], skip: undefined, n: 2 },
    });
    const [s] = seen;
    assert.equal(s.url, "/x?id=a&id=b&n=2");
    assert.equal(s.headers["x-auth-token"], "tok");
    assert.equal(s.headers["x-extra"], "1");
    assert.equal(s.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(s.body), { a: 1 });
  });
});

describe("OpenStack error bodies", () => {
  const cases: {
    service: string;
    status: number;
    body: unknown;
    kind: string;
    message: RegExp;
    text?: boolean;
  }[] = [
    {
      service: "Nova not found",
      status: 404,
      body: { itemNotFound: { code: 404, message: "Instance abc could not be found." } },
      kind: "not_found",
      message: /Instance abc could not be found/,
    },
    {
      service: "Nova quota (403)",
      status: 403,
      body: {
        forbidden: {
          code: 403,
          message: "Quota exceeded for instances: Requested 1, but already used 0 of 0 instances",
        },
      },
      kind: "quota_exceeded",
      message: /Quota exceeded for instances/,
    },
    {
      service: "Nova policy (403)",
      status: 403,
      body: {
        forbidden: {
          code: 403,
          message: "Policy doesn't allow os_compute_api:servers:create to be performed.",
        },
      },
      kind: "forbidden",
      message: /Policy/,
    },
    {
      service: "Nova invalid state (409)",
      status: 409,
      body: {
        conflictingRequest: {
          code: 409,
          message: "Cannot 'update tag' instance x while it is in vm_state building",
        },
      },
      kind: "conflict",
      message: /vm_state building/,
    },
    {
      service: "Neutron over quota (409)",
      status: 409,
      body: {
        NeutronError: {
          type: "OverQuota",
          message: "Quota exceeded for resources: ['floatingip'].",
          detail: "",
        },
      },
      kind: "quota_exceeded",
      message: /floatingip/,
    },
    {
      service: "Neutron rule exists (409)",
      status: 409,
      body: {
        NeutronError: {
          type: "SecurityGroupRuleExists",
          message: "Security group rule already exists. Rule id is 1f2e3d4c-0000-4000-8000-000000000001.",
          detail: "",
        },
      },
      kind: "conflict",
      message: /already exists/,
    },
    {
      service: "Cinder over limit (413)",
      status: 413,
      body: {
        overLimit: {
          code: 413,
          message:
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota.",
          retryAfter: "0",
        },
      },
      kind: "quota_exceeded",
      message: /gigabytes quota/,
    },
    {
      service: "Cinder bad request",
      status: 400,
      body: {
        badRequest: {
          code: 400,
          message: "Invalid input received: Invalid volume: Volume status must be available",
        },
      },
      kind: "bad_request",
      message: /Volume status must be available/,
    },
    {
      service: "Keystone",
      status: 403,
      body: {
        error: {
          code: 403,
          title: "Forbidden",
          message: "You are not authorized to perform the requested action.",
        },
      },
      kind: "forbidden",
      message: /not authorized/,
    },
    {
      service: "Glance JSON (webob)",
      status: 404,
      body: { message: "No image found with ID abc", code: "404 Not Found", title: "Not Found" },
      kind: "not_found",
      message: /No image found with ID abc/,
    },
    {
      service: "Glance plain text",
      status: 404,
      body: "404 Not Found\n\nNo image found with ID abc\n\n   ",
      kind: "not_found",
      message: /No image found with ID abc/,
      text: true,
    },
  ];
  for (const c of cases) {
    test(`${c.service} → ${c.kind}`, async () => {
      handler = (_req, res) => {
        if (c.text) {
          res.writeHead(c.status, { "Content-Type": "text/plain" });
          res.end(c.body as string);
        } else json(res, c.status, c.body);
      };
      const err = await failure(http({ retries: 0 }).get("/thing"));
      assert.equal(err.kind, c.kind);
      assert.equal(err.status, c.status);
      assert.match(err.message, c.message);
    });
  }

  test("5xx are unavailable whatever the body", () => {
    assert.equal(classify(500, "Quota exceeded"), "unavailable");
    assert.equal(classify(502, ""), "unavailable");
  });
});

describe("clients on ServiceHttp", () => {
  test("each microversion header goes only to its own service", async () => {
    handler = (req, res) => {
      if (req.url === "/identity/v3/auth/tokens") {
        const ep = (type: string, path: string) => ({
          type,
          endpoints: [{ interface: "public", region_id: "R", url: `${base}${path}` }],
        });
        return json(
          res,
          201,
          {
            token: {
              expires_at: new Date(Date.now() + 3600_000).toISOString(),
              project: { id: "p1" },
              user: { id: "u1" },
              catalog: [
                ep("compute", "/compute/v2.1"),
                ep("network", "/network"),
                ep("volumev3", "/volume/v3/p1"),
                ep("image", "/image"),
              ],
            },
          },
          { "X-Subject-Token": "svc" },
        );
      }
      if (req.url.startsWith("/compute"))
        return json(res, 200, { flavor: { id: "f", name: "m1", vcpus: 1, ram: 512 } });
      if (req.url.startsWith("/network")) return json(res, 200, { network: { id: "n", name: "net" } });
      if (req.url.startsWith("/volume")) return json(res, 200, { volume_type: { id: "t", name: "lvm" } });
      return json(res, 200, { id: "i", name: "img", status: "active" });
    };
    const session = new CloudSession({
      authUrl: `${base}/identity/v3`,
      username: "svc",
      password: "pw",
      userDomainName: "Default",
      projectName: "service",
      projectDomainName: "Default",
      interface: "public",
      timeoutMs: 2000,
      retries: 0,
    });
    const cloud = createCloud(session);
    await cloud.nova.getFlavor("f");
    await cloud.neutron.getNetwork("n");
    await cloud.cinder.getVolumeType("t");
    await cloud.glance.getImage("i");
    const byPath = (p: string) => seen.find((s) => s.url.startsWith(p))!;
    assert.equal(byPath("/compute/v2.1/flavors/f").headers["openstack-api-version"], "compute 2.79");
    assert.equal(byPath("/compute/v2.1/flavors/f").headers["x-openstack-nova-api-version"], "2.79");
    assert.match(String(byPath("/volume/v3/p1/types/t").headers["openstack-api-version"]), /^volume 3\.\d+$/);
    assert.equal(byPath("/network/v2.0/networks/n").headers["openstack-api-version"], undefined);
    assert.equal(byPath("/image/v2/images/i").headers["openstack-api-version"], undefined);
    assert.equal(byPath("/image/v2/images/i").headers["x-auth-token"], "svc");
  });

  test("server listing follows servers_links to the end, on our own base URL", async () => {
    handler = (req, res) => {
      const url = new URL(req.url, base);
      const marker = url.searchParams.get("marker");
      const page = marker === null ? ["a", "b"] : marker === "b" ? ["c"] : [];
      const links =
        marker === null
          ? [{ rel: "next", href: "http://internal:8774/v2.1/servers/detail?limit=2&marker=b" }]
          : [];
      json(res, 200, {
        servers: page.map((id) => ({ id, name: id, status: "ACTIVE" })),
        servers_links: links,
      });
    };
    const nova = new NovaClient(http());
    const servers = await nova.listServers({ tags: ["trs", "x"], projectId: "p" });
    assert.deepEqual(
      servers.map((s) => s.id),
      ["a", "b", "c"],
    );
    const first = new URL(seen[0].url, base).searchParams;
    assert.equal(first.get("tags"), "trs,x");
    assert.equal(first.get("all_tenants"), "1");
    assert.equal(first.get("project_id"), "p");
    assert.equal(new URL(seen[1].url, base).searchParams.get("marker"), "b");
  });

  test("a next link whose marker does not move ends the listing instead of looping", async () => {
    handler = (_req, res) =>
      json(res, 200, {
        networks: [{ id: "n1" }],
        networks_links: [{ rel: "next", href: `${base}/v2.0/networks?marker=n1` }],
      });
    const nets = await new NeutronClient(http()).listNetworks();
    // The first next link moves the marker to n1; the second repeats it and must stop there.
    assert.equal(seen.length, 2);
    assert.equal(nets.length, 2);
  });

  test("a duplicate security group rule is a typed conflict naming the existing rule", async () => {
    handler = (_req, res) =>
      json(res, 409, {
        NeutronError: {
          type: "SecurityGroupRuleExists",
          message: "Security group rule already exists. Rule id is 1f2e3d4c-0000-4000-8000-000000000001.",
          detail: "",
        },
      });
    const neutron = new NeutronClient(http());
    const err = await failure(neutron.createSecurityGroupRule({ securityGroupId: "g", protocol: "tcp" }));
    assert.ok(err instanceof SecurityGroupRuleExistsError);
    assert.ok(isCloudError(err, "conflict"));
    assert.equal(err.existingRuleId, "1f2e3d4c-0000-4000-8000-000000000001");
    assert.deepEqual(await neutron.ensureSecurityGroupRule({ securityGroupId: "g" }), {
      id: "1f2e3d4c-0000-4000-8000-000000000001",
      created: false,
    });
  });

  test("headroom is the tightest of instances, cores and RAM; -1 is unlimited", () => {
    const usage = {
      instances: { limit: 10, inUse: 2, reserved: 0 },
      cores: { limit: 20, inUse: 12, reserved: 2 },
      ram: { limit: -1, inUse: 4096, reserved: 0 },
    };
    assert.deepEqual(headroomFor(usage, { vcpus: 2, ram: 2048 }), {
      servers: 3,
      limitedBy: "cores",
      instances: 8,
      cores: 6,
      ram: null,
    });
    const unlimited = { instances: { limit: -1, inUse: 0, reserved: 0 } };
    assert.equal(headroomFor(unlimited, { vcpus: 1, ram: 1 }).servers, null);
    const full = { instances: { limit: 1, inUse: 3, reserved: 0 } };
    assert.equal(headroomFor(full, { vcpus: 1, ram: 1 }).servers, 0);
  });
});
