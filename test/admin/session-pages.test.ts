// GET /sessions/ at scale (issue 13): limit/marker pages with a Link next header, sort keys,
// created_at/closed_at ranges with each modifier, bad values as 400 envelopes, the streamed
// whole list equal to the pages put together, counts from the maintained counters, and the
// latest session per instance. Sessions are written straight into the database, with times
// chosen so that keys tie (the id breaks ties) and closed_at is often null.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import { assertError, makePool, useAdminStack } from "./api.ts";

let stack: Stack;
let pool: string;
let other: string;

interface Row {
  id: string;
  instance_id: string;
  instance_name: string;
  project_id: string;
  user_id: string;
  user_name: string | null;
  connection_type: string | null;
  created_at: Date;
  closed_at: Date | null;
}
const rows: Row[] = [];
const BASE = Date.parse("2026-01-01T00:00:00Z");

function makeRows(n: number, offset: number, project: string): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < n; i++) {
    const g = offset + i;
    out.push({
      id: randomUUID(),
      instance_id: `inst${g % 7}`,
      instance_name: `desk${g % 7}`,
      project_id: project,
      user_id: `user${g % 5}`,
      user_name: g % 11 === 0 ? null : `name${g % 9}`,
      connection_type: g % 13 === 0 ? null : ["web", "rdp", "rsclient"][g % 3],
      // Every three sessions share an opening second (ties), 90 s apart otherwise.
      created_at: new Date(BASE + Math.floor(g / 3) * 90_000),
      closed_at: g % 4 === 0 ? null : new Date(BASE + g * 61_000 + 500),
    });
  }
  return out;
}

async function insert(list: Row[]) {
  await stack.runtime.store.db.insertInto("sessions").values(list).execute();
}

useAdminStack(async (started) => {
  stack = started.stack;
  pool = await makePool(started.call, stack);
  other = await makePool(started.call, stack);
  rows.push(...makeRows(60, 0, pool), ...makeRows(15, 60, other));
  await insert(rows);
});

async function get(url: string) {
  const res = await stack.runtime.admin!.inject({ url, headers: { "x-auth-token": stack.adminToken } });
  return { status: res.statusCode, body: res.json(), link: res.headers.link as string | undefined };
}

/** Follows the Link next header from `url` to the end; the ids in order. */
async function walk(url: string, between?: (page: number) => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  let next: string | undefined = url;
  for (let page = 0; next; page++) {
    const res = await get(next);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    ids.push(...res.body.sessions.map((s: { session_id: string }) => s.session_id));
    if (res.link) {
      const m = /^<([^>]+)>; rel="next"$/.exec(res.link);
      assert.ok(m, res.link);
      assert.deepEqual(res.body.sessions_links, [{ rel: "next", href: m[1] }]);
      next = m[1];
    } else next = undefined;
    await between?.(page);
    assert.ok(page < 1000);
  }
  return ids;
}

type Key = string | number | null;
const keyOf = (r: Row, key: string): Key => {
  const v = key === "session_id" ? r.id : (r as unknown as Record<string, unknown>)[key];
  return v instanceof Date ? v.getTime() : (v as Key);
};

/** Each sort key's columns (the documented tie-breaks), the id last. */
const COLUMNS: Record<string, string[]> = {
  created_at: ["created_at", "session_id"],
  closed_at: ["closed_at", "session_id"],
  user_id: ["user_id", "created_at", "session_id"],
  user_name: ["user_name", "created_at", "session_id"],
  instance_id: ["instance_id", "created_at", "session_id"],
  session_id: ["session_id"],
};

/** The order PostgreSQL gives: the key's columns one way, nulls last ascending, first descending. */
function expected(list: Row[], key: string, dir: "asc" | "desc"): string[] {
  const cmp = (a: Key, b: Key) => {
    if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
    return a < b ? -1 : a > b ? 1 : 0;
  };
  const sign = dir === "asc" ? 1 : -1;
  const by = (x: Row, y: Row) => {
    for (const c of COLUMNS[key]) {
      const d = cmp(keyOf(x, c), keyOf(y, c));
      if (d !== 0) return d;
    }
    return 0;
  };
  return [...list].sort((x, y) => sign * by(x, y)).map((r) => r.id);
}

const ofPool = (p: string) => rows.filter((r) => r.project_id === p);

describe("GET /v1/sessions/ pages", () => {
  test("limit and marker walk a pool's sessions to the end, newest first, each once", async () => {
    const ids = await walk(`/v1/sessions/?project_id=${pool}&limit=7`);
    assert.deepEqual(ids, expected(ofPool(pool), "created_at", "desc"));
  });

  test("the streamed whole list equals the pages put together, and carries no link", async () => {
    const whole = await get(`/v1/sessions/?project_id=${pool}`);
    assert.equal(whole.status, 200);
    assert.equal(whole.link, undefined);
    assert.deepEqual(Object.keys(whole.body), ["sessions"]);
    const paged: unknown[] = [];
    let marker = "";
    for (;;) {
      const res = await get(`/v1/sessions/?project_id=${pool}&limit=9${marker}`);
      paged.push(...res.body.sessions);
      if (!res.link) break;
      marker = `&marker=${res.body.sessions.at(-1).session_id}`;
    }
    assert.deepEqual(whole.body.sessions, paged);
    // Every session of the database, streamed, in the reference's shape.
    const all = await get("/v1/sessions/");
    assert.equal(all.body.sessions.length, rows.length);
    assert.deepEqual(Object.keys(all.body.sessions[0]).sort(), Object.keys(paged[0] as object).sort());
  });

  test("sessions inserted during a walk neither duplicate nor hide the ones that were there", async () => {
    const before = new Set(ofPool(pool).map((r) => r.id));
    const added: Row[] = [];
    const ids = await walk(`/v1/sessions/?project_id=${pool}&limit=8`, async (page) => {
      // New sessions both newer than everything and in the middle of the range.
      const fresh = makeRows(3, 1000 + page * 3, pool).map((r, i) => ({
        ...r,
        created_at: new Date(i === 0 ? Date.now() : BASE + (page * 7 + i) * 45_000),
      }));
      added.push(...fresh);
      await insert(fresh);
    });
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    for (const id of before) assert.ok(ids.includes(id), `${id} was there before the walk`);
    // What the walk returned is in order, whatever was added.
    const all = [...ofPool(pool), ...added];
    const order = expected(all, "created_at", "desc");
    assert.deepEqual(
      ids,
      order.filter((id) => ids.includes(id)),
    );
    rows.push(...added);
  });

  for (const key of Object.keys(COLUMNS))
    for (const dir of ["asc", "desc"] as const)
      test(`sort_key=${key} sort_dir=${dir} pages in that order`, async () => {
        const ids = await walk(`/v1/sessions/?project_id=${other}&sort_key=${key}&sort_dir=${dir}&limit=4`);
        assert.deepEqual(ids, expected(ofPool(other), key, dir));
      });

  for (const field of ["created_at", "closed_at"] as const)
    for (const op of ["gt", "gte", "lt", "lte"] as const)
      test(`${field}__${op} selects by time, paged and streamed alike`, async () => {
        // A time that some sessions have exactly (gt and gte differ), in two spellings.
        const timed = ofPool(pool).filter((r) => r[field] !== null);
        const pivot = timed[Math.floor(timed.length / 2)];
        const at = pivot[field]!;
        const t = at.getTime();
        const want = ofPool(pool).filter((r) => {
          const v = r[field]?.getTime();
          if (v === undefined) return false;
          return op === "gt" ? v > t : op === "gte" ? v >= t : op === "lt" ? v < t : v <= t;
        });
        assert.ok(want.length > 0 && want.length < ofPool(pool).length);
        for (const spelled of [at.toISOString().slice(0, 23), at.toISOString().replace("Z", "+00:00")]) {
          const q = `/v1/sessions/?project_id=${pool}&${field}__${op}=${encodeURIComponent(spelled)}`;
          assert.deepEqual(await walk(`${q}&limit=6`), expected(want, "created_at", "desc"));
          const whole = await get(q);
          assert.equal(whole.body.sessions.length, want.length);
          const count = await get(q.replace("/sessions/?", "/sessions/count?"));
          assert.deepEqual(count.body, { count: want.length });
        }
      });

  test("an offset other than UTC is honoured", async () => {
    const at = new Date(BASE + 30 * 90_000);
    const q = `/v1/sessions/count?project_id=${pool}&created_at__gte=${encodeURIComponent("2026-01-01T02:45:00+02:00")}`;
    const want = ofPool(pool).filter((r) => r.created_at.getTime() >= at.getTime() - 0).length;
    assert.equal(at.toISOString(), "2026-01-01T00:45:00.000Z");
    assert.deepEqual((await get(q)).body, { count: want });
  });

  test("last=true pages the latest session of each instance", async () => {
    const latest = new Map<string, Row>();
    for (const r of ofPool(pool)) {
      const cur = latest.get(r.instance_id);
      const newer =
        !cur ||
        r.created_at.getTime() > cur.created_at.getTime() ||
        (r.created_at.getTime() === cur.created_at.getTime() && r.id > cur.id);
      if (newer) latest.set(r.instance_id, r);
    }
    const want = expected([...latest.values()], "created_at", "desc");
    assert.deepEqual(await walk(`/v1/sessions/?project_id=${pool}&last=true&limit=3`), want);
    const whole = await get(`/v1/sessions/?project_id=${pool}&last=true`);
    assert.deepEqual(
      whole.body.sessions.map((s: { session_id: string }) => s.session_id),
      want,
    );
    assert.deepEqual((await get(`/v1/sessions/count?project_id=${pool}&last=true`)).body, {
      count: want.length,
    });
  });

  test("bad paging and time values are 400s in the envelope", async () => {
    for (const q of [
      "limit=0",
      "limit=-1",
      "limit=ten",
      "limit=1.5",
      "sort_key=password",
      "sort_key=client_ip",
      "sort_dir=up",
      `marker=${randomUUID()}`,
      "marker=not-a-session",
      "created_at__gt=yesterday",
      "created_at__gt=2018-02-30T00:00:00",
      "closed_at__lt=2018-10-31T25:00:00",
      "created_at__contains=2018",
      "created_at=2018-10-31T12:59:43",
      "closed_at__noteq=2018-10-31T12:59:43",
      "offset=10",
    ]) {
      const res = await get(`/v1/sessions/?${q}`);
      assertError({ status: res.status, body: res.body }, 400);
    }
    // count takes the filters, not the paging.
    assertError(
      await get("/v1/sessions/count?limit=5").then((r) => ({ status: r.status, body: r.body })),
      400,
    );
  });

  test("counts come from the counters and follow inserts, moves and deletes", async () => {
    const db = stack.runtime.store.db;
    const check = async () => {
      const all = await db.selectFrom("sessions").select(["project_id", "connection_type"]).execute();
      const n = (p?: string, c?: string) =>
        all.filter(
          (r) => (p === undefined || r.project_id === p) && (c === undefined || r.connection_type === c),
        ).length;
      for (const [p, c] of [
        [undefined, undefined],
        [pool, undefined],
        [other, undefined],
        [undefined, "web"],
        [pool, "rdp"],
      ] as const) {
        const q = new URLSearchParams({
          ...(p ? { project_id: p } : {}),
          ...(c ? { connection_type: c } : {}),
        });
        assert.deepEqual((await get(`/v1/sessions/count?${q}`)).body, { count: n(p, c) }, `${q}`);
      }
    };
    await check();
    await insert(makeRows(10, 5000, other));
    await db
      .updateTable("sessions")
      .set({ connection_type: "web" })
      .where("connection_type", "=", "rdp")
      .execute();
    await db.updateTable("sessions").set({ closed_at: new Date() }).where("closed_at", "is", null).execute();
    await check();
    await db.deleteFrom("sessions").where("project_id", "=", other).where("user_id", "=", "user1").execute();
    await check();
  });

  test("last=true follows deletes and moves, and with a per-session filter reads the sessions", async () => {
    const db = stack.runtime.store.db;
    const latestOf = async (where: (r: Row) => boolean) => {
      const all = (await db.selectFrom("sessions").selectAll().execute()) as unknown as Row[];
      const latest = new Map<string, Row>();
      for (const r of all.filter(where)) {
        const cur = latest.get(r.instance_id);
        const t = r.created_at.getTime();
        if (!cur || t > cur.created_at.getTime() || (t === cur.created_at.getTime() && r.id > cur.id))
          latest.set(r.instance_id, r);
      }
      return expected([...latest.values()], "created_at", "desc");
    };
    const lastOf = async (q: string) => (await walk(`/v1/sessions/?last=true&limit=2&${q}`)) as string[];
    // Delete the latest session of two instances, move one session to another instance and time.
    const before = await latestOf((r) => r.project_id === pool);
    await db.deleteFrom("sessions").where("id", "in", before.slice(0, 2)).execute();
    const [moved] = ofPool(pool).filter((r) => !before.includes(r.id));
    await db
      .updateTable("sessions")
      .set({ instance_id: "inst-moved", created_at: new Date(BASE - 86400_000) })
      .where("id", "=", moved.id)
      .execute();
    // And one session of an instance made its newest by a new opening time.
    const [later] = ofPool(pool).filter(
      (r) => r.instance_id === "inst3" && !before.includes(r.id) && r.id !== moved.id,
    );
    await db
      .updateTable("sessions")
      .set({ created_at: new Date(BASE + 365 * 86400_000) })
      .where("id", "=", later.id)
      .execute();
    assert.deepEqual(await lastOf(`project_id=${pool}`), await latestOf((r) => r.project_id === pool));
    assert.deepEqual(
      (await get(`/v1/sessions/count?project_id=${pool}&last=true&instance_id__noteq=inst1`)).body,
      {
        count: (await latestOf((r) => r.project_id === pool && r.instance_id !== "inst1")).length,
      },
    );
    assert.deepEqual(
      await lastOf(`project_id=${pool}&sort_key=session_id&sort_dir=asc`),
      [...(await latestOf((r) => r.project_id === pool))].sort(),
    );
    assert.deepEqual(
      await lastOf(`project_id=${pool}&instance_id__in=inst1,inst2,inst-moved`),
      await latestOf(
        (r) => r.project_id === pool && ["inst1", "inst2", "inst-moved"].includes(r.instance_id),
      ),
    );
    // user_id is the session's: the latest of each instance among that user's sessions.
    assert.deepEqual(
      await lastOf(`project_id=${pool}&user_id=user3`),
      await latestOf((r) => r.project_id === pool && r.user_id === "user3"),
    );
    assert.deepEqual(
      await lastOf(`created_at__lt=${encodeURIComponent(new Date(BASE + 20 * 90_000).toISOString())}`),
      await latestOf((r) => r.created_at.getTime() < BASE + 20 * 90_000),
    );
  });

  test("counts over ranges of days: whole days from the counters, the ends from the rows", async () => {
    const db = stack.runtime.store.db;
    const third = `days-${randomUUID()}`;
    // Every 5 hours for 12 days, at odd minutes and milliseconds.
    const spread = makeRows(58, 7000, third).map((r, i) => ({
      ...r,
      created_at: new Date(BASE + i * 5 * 3600_000 + 7 * 60_000 + 123),
    }));
    await insert(spread);
    const iso = (ms: number) => new Date(ms).toISOString();
    const H = 3600_000;
    const bounds = [
      BASE,
      BASE + 26 * H,
      BASE + 26 * H + 7 * 60_000 + 123,
      BASE + 5 * 24 * H,
      BASE + 9 * 24 * H + 5 * H + 7 * 60_000 + 123,
    ];
    const cases: [string, (t: number) => boolean][] = [];
    for (const lo of bounds)
      for (const hi of bounds) {
        if (hi <= lo) continue;
        cases.push([`created_at__gte=${iso(lo)}&created_at__lt=${iso(hi)}`, (t) => t >= lo && t < hi]);
        cases.push([`created_at__gt=${iso(lo)}&created_at__lte=${iso(hi)}`, (t) => t > lo && t <= hi]);
      }
    for (const b of bounds) {
      cases.push([`created_at__gte=${iso(b)}`, (t) => t >= b]);
      cases.push([`created_at__lt=${iso(b)}`, (t) => t < b]);
    }
    const check = async () => {
      const rows = (await db
        .selectFrom("sessions")
        .selectAll()
        .where("project_id", "=", third)
        .execute()) as unknown as Row[];
      for (const [q, keep] of cases) {
        const want = rows.filter((r) => keep(r.created_at.getTime()));
        assert.deepEqual(
          (await get(`/v1/sessions/count?project_id=${third}&${q}`)).body,
          { count: want.length },
          q,
        );
        const web = want.filter((r) => r.connection_type === "web").length;
        assert.deepEqual(
          (await get(`/v1/sessions/count?project_id=${third}&connection_type=web&${q}`)).body,
          { count: web },
          q,
        );
      }
    };
    await check();
    // Moved to another day, and deleted: the counters follow.
    await db
      .updateTable("sessions")
      .set({ created_at: new Date(BASE + 3 * 24 * H) })
      .where("id", "in", [spread[1].id, spread[40].id])
      .execute();
    await db.deleteFrom("sessions").where("id", "in", [spread[10].id, spread[30].id]).execute();
    await check();
  });
});
