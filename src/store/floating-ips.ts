// The floating IP each user keeps (at most one per user, each IP held by at most one user).
// API (used by the admin core and the broker when it hands out an address):
//   list() / get(userId) / holderOf(floatingIpId) / insert / replace / remove
import type { Kysely, Selectable } from "kysely";
import { sql } from "kysely";
import type { Database, UserFloatingIpsTable } from "./schema.ts";
import { isUniqueViolation } from "./unique.ts";

export type UserFloatingIp = Selectable<UserFloatingIpsTable>;

/** The user already has one, or the IP belongs to another user. */
export class FloatingIpTakenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FloatingIpTakenError";
  }
}

function translate(err: unknown): never {
  if (isUniqueViolation(err)) {
    throw new FloatingIpTakenError(
      isUniqueViolation(err, "user_floating_ips_pkey")
        ? "the user already has a floating IP"
        : "the floating IP is assigned to another user",
    );
  }
  throw err;
}

export class FloatingIpRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<UserFloatingIp[]> {
    return this.db
      .selectFrom("user_floating_ips")
      .selectAll()
      .orderBy("created_at")
      .orderBy("user_id")
      .execute();
  }

  async get(userId: string): Promise<UserFloatingIp | undefined> {
    return this.db
      .selectFrom("user_floating_ips")
      .selectAll()
      .where("user_id", "=", userId)
      .executeTakeFirst();
  }

  async holderOf(floatingIpId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("user_floating_ips")
      .select("user_id")
      .where("floating_ip_id", "=", floatingIpId)
      .executeTakeFirst();
    return row?.user_id;
  }

  async insert(userId: string, floatingIpId: string): Promise<UserFloatingIp> {
    try {
      return await this.db
        .insertInto("user_floating_ips")
        .values({ user_id: userId, floating_ip_id: floatingIpId })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      translate(err);
    }
  }

  /** Sets the user's floating IP whether or not one was set before. */
  async replace(userId: string, floatingIpId: string): Promise<UserFloatingIp> {
    try {
      return await this.db
        .insertInto("user_floating_ips")
        .values({ user_id: userId, floating_ip_id: floatingIpId })
        .onConflict((oc) =>
          oc.column("user_id").doUpdateSet({ floating_ip_id: floatingIpId, updated_at: sql`now()` }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      translate(err);
    }
  }

  async remove(userId: string): Promise<boolean> {
    const res = await this.db
      .deleteFrom("user_floating_ips")
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}
