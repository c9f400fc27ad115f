// The curl reader the reference replay uses (test/helpers/curl.ts): shell quoting and
// variables as a shell reads them, then curl's method, headers, body and its own defaults.
import assert from "node:assert/strict";
import { test } from "node:test";
import { curlRequest, shellWords } from "../helpers/curl.ts";

test("single quotes are literal, double quotes and bare words expand variables, a pipe ends the command", () => {
  assert.deepEqual(shellWords(`a 'x $t "q"' "b $t \\"c\\"" d$t | python -m json.tool`, { t: "T" }), [
    "a",
    'x $t "q"',
    'b T "c"',
    "dT",
  ]);
  assert.deepEqual(shellWords('"http://h/$project_id?x=1"', { project_id: "P" }), ["http://h/P?x=1"]);
  assert.throws(() => shellWords("$nothing", {}), /no value for \$nothing/);
  assert.throws(() => shellWords("'open", {}), /unclosed/);
});

test("curl's request: -X, every -H, -d, and curl's own Accept and User-Agent", () => {
  const r = curlRequest(
    `curl -X DELETE -H "X-Auth-Token: $token" -H "Content-Type: application/json" http://controller:9364/v1/x`,
    { token: "T" },
  );
  assert.equal(r.method, "DELETE");
  assert.equal(r.url, "http://controller:9364/v1/x");
  assert.equal(r.body, undefined);
  assert.deepEqual(r.headers, {
    "User-Agent": "curl/7.88.1",
    Accept: "*/*",
    "X-Auth-Token": "T",
    "Content-Type": "application/json",
  });
  const posted = curlRequest(`curl http://h/v1/y -d '{"a": "rR0666&4"}'`, {});
  assert.equal(posted.method, "POST", "-d without -X is a POST");
  assert.equal(posted.body, '{"a": "rR0666&4"}');
  assert.equal(posted.headers["Content-Type"], "application/x-www-form-urlencoded", "curl's default for -d");
  assert.throws(() => curlRequest("curl -k http://h/", {}), /not supported/);
});
