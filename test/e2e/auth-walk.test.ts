// Every route of the admin API, read from its own OpenAPI document, refuses a request without
// a token (401) and one with a member's token (403) — so a new route cannot forget either.
// The exceptions are named here: routes any user may call (the core authorizes the caller),
// and the few public ones, which must not declare a token. The broker API takes its users'
// credentials in the body: no route of it may declare the admin token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

/** Routes that take any valid user token; the core decides what the user may do. */
const USER_ROUTES = new Set(["POST /v1/sessions", "PUT /v1/sessions/{session_id}"]);
/** Routes anyone may call: no token declared, none asked. */
const PUBLIC_ROUTES = new Set(["GET /health", "POST /v1/auth/tokens"]);

interface Operation {
  security?: unknown[];
}

async function operations(base: string) {
  const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
    paths: Record<string, Record<string, Operation>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      route: `${method.toUpperCase()} ${path.replace(/\/$/, "")}`,
      method: method.toUpperCase(),
      url: path.replace(/\{[^}]+\}/g, "x"),
      secured: (op.security?.length ?? 0) > 0,
    })),
  );
}

async function status(base: string, method: string, url: string, token?: string) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: token ? { "X-Auth-Token": token } : {},
  });
  await res.arrayBuffer();
  return res.status;
}

test("admin API: every route refuses no token (401) and a member token (403)", async () => {
  const ops = await operations(stack.adminUrl);
  const v1 = ops.filter((o) => o.url.startsWith("/v1/"));
  assert.ok(v1.length >= 30, `only ${v1.length} /v1 operations in the document`);
  for (const op of ops) {
    if (PUBLIC_ROUTES.has(op.route)) {
      assert.equal(op.secured, false, `${op.route} is public but declares a token`);
      continue;
    }
    assert.ok(op.secured, `${op.route} declares no token in the OpenAPI document`);
    assert.equal(await status(stack.adminUrl, op.method, op.url), 401, `${op.route} without a token`);
    assert.equal(
      await status(stack.adminUrl, op.method, op.url, "not-a-token"),
      401,
      `${op.route} with a token Keystone refuses`,
    );
    const member = await status(stack.adminUrl, op.method, op.url, stack.memberToken);
    if (USER_ROUTES.has(op.route)) {
      assert.ok(member !== 401 && member !== 403, `${op.route} takes a member's token, got ${member}`);
    } else {
      assert.equal(member, 403, `${op.route} with a member's token`);
    }
  }
});

test("broker API: no route declares the admin token", async () => {
  const ops = await operations(stack.brokerUrl);
  assert.ok(ops.some((o) => o.route === "POST /v1/request-vm"));
  for (const op of ops) assert.equal(op.secured, false, `${op.route} declares the admin token`);
});
