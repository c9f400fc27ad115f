// Volume assignments: a user's persistent volume in a pool (one per user per project).
// API (admin routes, broker): list(filters) / get(id) / create(input) / remove(id)
//   findFor(userId, projectId) → the assignment or undefined; record(input) → without checks,
//   for the broker once it has created the volume itself
import type { Cloud } from "../cloud/cloud.ts";
import { isCloudError } from "../cloud/http.ts";
import type { Filter } from "../shared/types.ts";
import {
  type VolumeAssignment,
  type VolumeAssignmentRepository,
  VolumeAssignmentTakenError,
} from "../store/volume-assignments.ts";
import type { Directory } from "./directory.ts";
import { conflict, invalid, notFound } from "./errors.ts";

/** The record as the routes shape it. */
export type { VolumeAssignment };

import type { PoolService } from "./pools.ts";

export interface VolumeAssignmentInput {
  user_id: string;
  project_id: string;
  volume_id: string;
}

export class VolumeAssignmentService {
  constructor(
    private readonly d: {
      volumeAssignments: VolumeAssignmentRepository;
      poolService: PoolService;
      directory: Directory;
      cloud: Pick<Cloud, "cinder">;
    },
  ) {}

  list(filters: Filter[]): Promise<VolumeAssignment[]> {
    return this.d.volumeAssignments.list(filters);
  }

  async get(id: string): Promise<VolumeAssignment> {
    const found = /^\d{1,9}$/.test(id) ? await this.d.volumeAssignments.get(Number(id)) : undefined;
    if (!found) throw notFound(`Volume assignment ${id} not found`);
    return found;
  }

  findFor(userId: string, projectId: string): Promise<VolumeAssignment | undefined> {
    return this.d.volumeAssignments.find(userId, projectId);
  }

  async create(input: VolumeAssignmentInput): Promise<VolumeAssignment> {
    const pool = await this.d.poolService.requireReferenced(input.project_id).catch((err) => {
      // Every id of this body is input: an unknown project is a bad request, not a missing resource.
      if ((err as { kind?: string }).kind === "not_found")
        throw invalid(`Project ${input.project_id} not found`);
      throw err;
    });
    if ((await this.d.directory.missingUsers([input.user_id])).length > 0)
      throw invalid(`User ${input.user_id} not found`);
    let volumeProject: string | null;
    try {
      volumeProject = (await this.d.cloud.cinder.getVolume(input.volume_id)).projectId;
    } catch (err) {
      if (isCloudError(err, "not_found")) throw invalid(`Volume ${input.volume_id} not found`);
      throw err;
    }
    if (volumeProject && volumeProject !== pool.id) {
      throw invalid(`Volume ${input.volume_id} belongs to another project`);
    }
    return this.record(input);
  }

  async record(input: VolumeAssignmentInput): Promise<VolumeAssignment> {
    return this.d.volumeAssignments.insert(input).catch((err) => {
      if (err instanceof VolumeAssignmentTakenError) throw conflict(err.message);
      throw err;
    });
  }

  async remove(id: string): Promise<void> {
    const found = await this.get(id);
    await this.d.volumeAssignments.remove(found.id);
  }
}
