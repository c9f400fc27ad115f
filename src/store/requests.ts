// Broker requests (request-vm → get-vm): the durable trace of one allocation, its steps, its
// outcome. One process runs it at a time: the task engine leases the task that carries it.
import { type Kysely, type Selectable, sql, type Transaction } from "kysely";
import type { RequestStep } from "../shared/types.ts";
import { prepared } from "./db.ts";
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

/** A request recorded already completed, with its session (the broker's warm path). */
export interface CompletedRequest {
  request: NewRequest;
  steps: RequestStep[];
  instanceId: string;
  ip: string;
  session: NewSession;
}

/**
 * Records a completed request and its session in one statement, unless the user has an open
 * session on the instance (a reconnect: the allocation closes it first). Answers whether it
 * was recorded.
 */
export async function insertCompleted(db: Kysely<Database> | Transaction<Database>, c: CompletedRequest) {
  const r = c.request;
  const s = sessionRow(c.session);
  const { rows } = await sql<{ id: string }>`/* prepared rs_insert_completed */
    WITH req AS (
      INSERT INTO requests (id, user_id, user_name, domain_id, project_id, project_name, status,
        conn_type, client_ip, peer_ip, client_os, client_info, task_id, steps, instance_id, ip,
        completed_at)
      SELECT ${r.id}, ${r.userId}, ${r.userName}, ${r.domainId}, ${r.projectId}, ${r.projectName},
        'completed', ${r.connType}, ${r.clientIp}, ${r.peerIp ?? null}, ${r.clientOs}, ${r.clientInfo},
        ${r.taskId}::uuid, ${JSON.stringify(c.steps)}::jsonb, ${c.instanceId}, ${c.ip}, now()
      WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = ${s.user_id}
        AND instance_id = ${s.instance_id} AND closed_at IS NULL)
      RETURNING id
    )
    INSERT INTO sessions (id, instance_id, instance_name, project_id, user_id, user_name,
      connection_type, client_ip, client_os, client_info, request_id, rule_ids)
    SELECT ${s.id}::uuid, ${s.instance_id}, ${s.instance_name}, ${s.project_id}, ${s.user_id}, ${s.user_name},
      ${s.connection_type}, ${s.client_ip}, ${s.client_os}, ${s.client_info}, req.id, ${s.rule_ids}::jsonb
    FROM req
    RETURNING id`.execute(db);
  return rows.length === 1;
}

/** What get-vm shows of a request's instance, from our record. */
export interface RequestInstance {
  status: string;
  vm_state: string | null;
  task_state: string | null;
  progress: number | null;
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

  /**
   * The request and our record of its instance, in one indexed read (get-vm: what a client
   * polls reads nothing else while the request is completed).
   */
  async withInstance(
    id: string,
  ): Promise<{ request: RequestRow; instance: RequestInstance | undefined } | undefined> {
    // get-vm's read, once per poll: a prepared statement.
    const query = this.db
      .selectFrom("requests as r")
      .leftJoin("instances as i", "i.id", "r.instance_id")
      .selectAll("r")
      .select([
        "i.id as i_id",
        "i.status as i_status",
        "i.vm_state as i_vm_state",
        "i.task_state as i_task_state",
        "i.progress as i_progress",
      ])
      .where("r.id", "=", id);
    const [row] = (await this.db.executeQuery(prepared("rs_request_state", query))).rows;
    if (!row) return undefined;
    const { i_id, i_status, i_vm_state, i_task_state, i_progress, ...request } = row;
    return {
      request,
      instance: i_id
        ? {
            status: i_status!,
            vm_state: i_vm_state ?? null,
            task_state: i_task_state ?? null,
            progress: i_progress ?? null,
          }
        : undefined,
    };
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
