// The gateway's pure rules: which Origins may open it, which address a connection comes from
// (through trusted proxies only), and the per-user and total connection limits.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { BlockList } from "node:net";
import { describe, it } from "node:test";
import { clientAddress, originAllowed } from "../../src/broker/console-gateway.ts";
import { ConnectionLimiter } from "../../src/core/console-tickets.ts";

const consoleConfig = (allowedOrigins: string[] = [], sameHostOrigin = true) => ({
  defaultPort: 5900,
  ticketTtlSeconds: 30,
  maxConnectionsPerUser: 4,
  maxConnections: 200,
  allowedOrigins,
  sameHostOrigin,
});

const req = (remoteAddress: string, forwarded?: string) =>
  ({
    socket: { remoteAddress },
    headers: forwarded ? { "x-forwarded-for": forwarded } : {},
  }) as unknown as IncomingMessage;

describe("console gateway rules", () => {
  it("allows the page of the host the handshake went to, and the configured origins only", () => {
    const c = consoleConfig(["https://Desktop.Example.org"]);
    assert.equal(originAllowed(c, "http://10.1.2.3:9365", "10.1.2.3:9365"), true);
    assert.equal(originAllowed(c, "https://desktop.example.org", "10.1.2.3:9365"), true);
    assert.equal(
      originAllowed(c, "https://desktop.example.org:443", "x"),
      true,
      "default port is the same origin",
    );
    assert.equal(originAllowed(c, "http://10.1.2.3:8888", "10.1.2.3:9365"), false, "another port");
    assert.equal(originAllowed(c, "http://evil.example", "10.1.2.3:9365"), false);
    assert.equal(
      originAllowed(c, "null", "10.1.2.3:9365"),
      false,
      "opaque origins (sandboxed frames, files)",
    );
    assert.equal(originAllowed(c, "file:///tmp/x.html", "10.1.2.3:9365"), false);
    assert.equal(originAllowed(c, undefined, "10.1.2.3:9365"), false);
    assert.equal(originAllowed(c, "http://10.1.2.3:9365", undefined), false);
    const strict = consoleConfig(["https://desktop.example.org"], false);
    assert.equal(originAllowed(strict, "http://10.1.2.3:9365", "10.1.2.3:9365"), false);
    assert.equal(originAllowed(strict, "https://desktop.example.org", "10.1.2.3:9365"), true);
  });

  it("takes the client's address from X-Forwarded-For only through trusted proxies", () => {
    const trusted = new BlockList();
    trusted.addSubnet("10.0.0.0", 8, "ipv4");
    assert.equal(clientAddress(req("::ffff:192.0.2.7"), trusted), "192.0.2.7");
    assert.equal(
      clientAddress(req("192.0.2.7", "203.0.113.9"), trusted),
      "192.0.2.7",
      "an untrusted peer's header is ignored",
    );
    assert.equal(clientAddress(req("10.0.0.2", "203.0.113.9"), trusted), "203.0.113.9");
    assert.equal(
      clientAddress(req("10.0.0.2", "203.0.113.9, 10.0.0.3"), trusted),
      "203.0.113.9",
      "through two proxies",
    );
    assert.equal(
      clientAddress(req("10.0.0.2", "198.51.100.1, 203.0.113.9"), trusted),
      "203.0.113.9",
      "a forged first hop is not taken",
    );
    assert.equal(clientAddress(req("10.0.0.2", "not-an-ip"), trusted), null);
  });

  it("limits connections per user and in total, and a release frees the slot once", () => {
    const limiter = new ConnectionLimiter(2, 3);
    const a1 = limiter.acquire("a");
    const a2 = limiter.acquire("a");
    assert.ok(a1.ok && a2.ok);
    assert.equal(limiter.acquire("a").ok, false, "a third for one user");
    const b1 = limiter.acquire("b");
    assert.ok(b1.ok);
    const c1 = limiter.acquire("c");
    assert.equal(c1.ok, false, "the total is reached");
    a1.release();
    a1.release();
    assert.deepEqual(limiter.counts(), { total: 2, users: 2 }, "a second release changes nothing");
    assert.ok(limiter.acquire("c").ok);
  });
});
