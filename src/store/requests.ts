// Broker requests (request-vm → get-vm): the durable trace of one allocation, its steps, its
// outcome. One process runs it at a time: the task engine leases the task that carries it.
import { type Kysely, type Selectable, sql } from "kysely";
import type { RequestStep } from "../shared/types.ts";
import type { Database, RequestsTable } from "./schema.ts";
import { type NewSession, sessionRow } from "./user-resources.ts";

export type RequestStatus = "pending" | "in_progress" | "completed" | "failed";

export type RequestRow = Selectable<RequestsTable>;

export interface NewRequest {
  id: string;
  userId: string;
  userName: string | null;
  domainId: string | null;
  projectId: string;
  projectName: string | null;
  connType: string | null;
  clientIp: string | null;
  /** Where the request came from (undefined: unknown). */
  peerIp?: string | null;
  clientOs: string | null;
  clientInfo: string | null;
  taskId: string | null;
}

export class RequestsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: NewRequest): Promise<void> {
    await this.db
      .insertInto("requests")
      .values({
        id: r.id,
        user_id: r.userId,
        user_name: r.userName,
        domain_id: r.domainId,
        project_id: r.projectId,
        project_name: r.projectName,
        status: "pending",
        conn_type: r.connType,
        client_ip: r.clientIp,
        peer_ip: r.peerIp ?? null,
        client_os: r.clientOs,
        client_info: r.clientInfo,
        task_id: r.taskId,
        steps: "[]",
      })
      .execute();
  }

  async get(id: string): Promise<RequestRow | undefined> {
    return this.db.selectFrom("requests").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** The request if it is still to be run (a re-run after a lost worker finds it done). */
  async unfinished(id: string): Promise<RequestRow | undefined> {
    return this.db
      .selectFrom("requests")
      .selectAll()
      .where("id", "=", id)
      .where("completed_at", "is", null)
      .executeTakeFirst();
  }

  async setTask(id: string, taskId: string): Promise<void> {
    await this.db.updateTable("requests").set({ task_id: taskId }).where("id", "=", id).execute();
  }

  async saveProgress(id: string, steps: RequestStep[], instanceId?: string | null): Promise<void> {
    await this.db
      .updateTable("requests")
      .set({
        status: "in_progress",
        steps: JSON.stringify(steps),
        updated_at: sql`now()`,
        ...(instanceId !== undefined ? { instance_id: instanceId } : {}),
      })
      .where("id", "=", id)
      .where("completed_at", "is", null)
      .execute();
  }

  /**
   * Completes the request and records its session in one transaction: one commit on the
   * warm path, and never a session without its request done (or the reverse). False when the
   * request had already ended (another run of its task recorded the outcome).
   */
  async complete(
    id: string,
    steps: RequestStep[],
    instanceId: string,
    ip: string,
    session: NewSession,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const done = await trx
        .updateTable("requests")
        .set({
          status: "completed",
          steps: JSON.stringify(steps),
          instance_id: instanceId,
          ip,
          updated_at: sql`now()`,
          completed_at: sql`now()`,
        })
        .where("id", "=", id)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      if (Number(done.numUpdatedRows) !== 1) return false;
      await trx.insertInto("sessions").values(sessionRow(session)).execute();
      return true;
    });
  }

  async fail(
    id: string,
    steps: RequestStep[],
    code: number,
    data: Record<string, unknown>,
    instanceId?: string | null,
  ): Promise<void> {
    await this.db
      .updateTable("requests")
      .set({
        status: "failed",
        steps: JSON.stringify(steps),
        error_code: code,
        error_data: JSON.stringify(data),
        updated_at: sql`now()`,
        completed_at: sql`now()`,
        ...(instanceId ? { instance_id: instanceId } : {}),
      })
      .where("id", "=", id)
      .where("completed_at", "is", null)
      .execute();
  }
}
