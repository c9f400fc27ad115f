// Typed client for the Image API (Glance v2): the core only checks and shows images.
import { listPages, pageAfter, type Query, type ServiceHttp } from "./http.ts";

export interface GlanceImage {
  id: string;
  name: string | null;
  /** queued, saving, active, killed, deleted, deactivated, ... */
  status: string;
  visibility: string;
  owner: string | null;
  minDisk: number;
  minRam: number;
  diskFormat: string | null;
  size: number | null;
  tags: string[];
  created: string;
  updated: string;
  /** Glance v2 images are flat objects: custom properties sit beside the standard keys. */
  raw: Record<string, any>;
}

export interface ListImagesFilters {
  name?: string;
  status?: string;
  visibility?: "public" | "private" | "shared" | "community" | "all";
  owner?: string;
  pageSize?: number;
}

function toImage(raw: Record<string, any>): GlanceImage {
  return {
    id: raw.id,
    name: raw.name ?? null,
    status: raw.status,
    visibility: raw.visibility,
    owner: raw.owner ?? null,
    minDisk: raw.min_disk ?? 0,
    minRam: raw.min_ram ?? 0,
    diskFormat: raw.disk_format ?? null,
    size: raw.size ?? null,
    tags: raw.tags ?? [],
    created: raw.created_at,
    updated: raw.updated_at,
    raw,
  };
}

export class GlanceClient {
  constructor(private readonly http: ServiceHttp) {}

  async getImage(id: string): Promise<GlanceImage> {
    // Glance v2 answers the image itself, with no wrapping key.
    return toImage(await this.http.get<Record<string, any>>(`/v2/images/${encodeURIComponent(id)}`));
  }

  /** Every page followed through Glance's `next` link (a path with the marker). */
  async listImages(f: ListImagesFilters = {}): Promise<GlanceImage[]> {
    const query: Query = {
      name: f.name,
      status: f.status,
      visibility: f.visibility,
      owner: f.owner,
      limit: f.pageSize,
    };
    const pages = await listPages(this.http, "/v2/images", "images", query, (page, current) =>
      page.next ? pageAfter(page.next, current) : undefined,
    );
    return pages.map(toImage);
  }
}
