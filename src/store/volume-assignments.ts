// Volume assignments: the persistent Cinder volume a user keeps in a pool (one per user per
// project; a volume belongs to one user). API (used by the admin core and the broker, which
// creates the volume and its assignment on first use):
//   list(filters) / get(id) / find(userId, projectId) / insert(row) / remove(id) / removeProject
import type { Kysely, Selectable } from "kysely";
import { sql } from "kysely";
import type { Filter } from "../shared/types.ts";
import { filterCondition } from "./filters.ts";
import type { Database, VolumeAssignmentsTable } from "./schema.ts";
import { isUniqueViolation } from "./unique.ts";

export type VolumeAssignment = Selectable<VolumeAssignmentsTable>;

/** The user already has a volume in the project, or the volume is assigned already. */
export class VolumeAssignmentTakenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VolumeAssignmentTakenError";
  }
}

const MODIFIABLE = new Set(["user_id", "project_id", "volume_id"]);

export class VolumeAssignmentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(filters: Filter[] = []): Promise<VolumeAssignment[]> {
    let q = this.db.selectFrom("volume_assignments as v").selectAll("v");
    for (const f of filters) {
      if (!MODIFIABLE.has(f.field)) continue;
      q = q.where((eb) => filterCondition(eb, sql.ref(`v.${f.field}`), f));
    }
    return q.orderBy("v.id").execute();
  }

  async get(id: number): Promise<VolumeAssignment | undefined> {
    return this.db.selectFrom("volume_assignments").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async find(userId: string, projectId: string): Promise<VolumeAssignment | undefined> {
    return this.db
      .selectFrom("volume_assignments")
      .selectAll()
      .where("user_id", "=", userId)
      .where("project_id", "=", projectId)
      .executeTakeFirst();
  }

  async insert(row: { user_id: string; project_id: string; volume_id: string }): Promise<VolumeAssignment> {
    try {
      return await this.db
        .insertInto("volume_assignments")
        .values(row)
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new VolumeAssignmentTakenError(
          isUniqueViolation(err, "volume_assignments_user_project")
            ? "the user already has a volume in this project"
            : "the volume is already assigned",
        );
      }
      throw err;
    }
  }

  async remove(id: number): Promise<boolean> {
    const res = await this.db.deleteFrom("volume_assignments").where("id", "=", id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async removeProject(projectId: string): Promise<void> {
    await this.db.deleteFrom("volume_assignments").where("project_id", "=", projectId).execute();
  }
}
