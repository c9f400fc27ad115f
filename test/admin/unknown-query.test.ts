// Unknown query parameters are a 400 with the error envelope on every GET route of the admin API,
// as docs/admin-api.md says (issue 12.9): the test walks the routes of the API's own OpenAPI
// document, so a route added later is walked too.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import { type api, useAdminStack } from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack(async (started) => {
  ({ stack, call } = started);
});

describe("unknown query parameters on the admin API", () => {
  test("every GET route of /docs/json answers 400 with the envelope, with and without other parameters", async () => {
    const doc = (await (await fetch(`${stack.adminUrl}/docs/json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(doc.paths)
      .filter(([, ops]) => "get" in ops)
      .map(([path]) => path);
    assert.ok(routes.length >= 15, `only ${routes.length} GET routes documented`);
    const wrong: string[] = [];
    for (const route of routes) {
      // Path parameters get a value that names nothing: the parameter is refused before the lookup.
      const path = route.replace(/\{[^}]+\}/g, "00000000-0000-0000-0000-000000000000");
      for (const query of ["?zz_unknown=1", "?zz_unknown"]) {
        const res = await call("GET", `${path}${query}`);
        const ok =
          res.status === 400 && typeof res.body?.error?.message === "string" && res.body.error.code === 400;
        if (!ok) wrong.push(`${route}${query}: ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});
