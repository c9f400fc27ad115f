// Glance's simulated images: metadata only (the simulator stores no image data), with the
// fields of Glance v2's image schema.
import { createHash, randomUUID } from "node:crypto";

export interface ImageRecord {
  id: string;
  name: string | null;
  status: "queued" | "active" | "deactivated" | "deleted";
  visibility: "public" | "private" | "shared" | "community";
  protected: boolean;
  os_hidden: boolean;
  disk_format: string | null;
  container_format: string | null;
  min_disk: number;
  min_ram: number;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  owner: string;
  tags: string[];
  created_at: string;
  updated_at: string;
  /** Free-form image properties (hw_*, os_distro, ...), flattened into the view as Glance does. */
  properties: Record<string, string>;
}

export interface GlanceData {
  images: ImageRecord[];
}

export function newImage(input: {
  name: string;
  owner: string;
  visibility?: ImageRecord["visibility"];
  size?: number;
  diskFormat?: string;
  minDisk?: number;
  minRam?: number;
  properties?: Record<string, string>;
}): ImageRecord {
  const t = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const size = input.size ?? 16_338_944;
  // Stand-in digests of the image's identity, so that checksum fields look and behave real.
  const seed = `${input.name}:${size}`;
  return {
    id: randomUUID(),
    name: input.name,
    status: "active",
    visibility: input.visibility ?? "public",
    protected: false,
    os_hidden: false,
    disk_format: input.diskFormat ?? "qcow2",
    container_format: "bare",
    min_disk: input.minDisk ?? 0,
    min_ram: input.minRam ?? 0,
    size,
    virtual_size: 117_440_512,
    checksum: createHash("md5").update(seed).digest("hex"),
    os_hash_algo: "sha512",
    os_hash_value: createHash("sha512").update(seed).digest("hex"),
    owner: input.owner,
    tags: [],
    created_at: t,
    updated_at: t,
    properties: input.properties ?? {},
  };
}

export class GlanceState {
  readonly images = new Map<string, ImageRecord>();

  toJSON(): GlanceData {
    return { images: [...this.images.values()] };
  }

  load(data: GlanceData): void {
    this.images.clear();
    for (const i of data.images ?? []) this.images.set(i.id, structuredClone(i));
  }

  add(image: ImageRecord): ImageRecord {
    this.images.set(image.id, image);
    return image;
  }

  /** Glance's visibility rules for a project: public, community, own, and shared images. */
  visibleTo(image: ImageRecord, projectId: string | undefined, admin: boolean): boolean {
    if (admin) return true;
    return image.visibility === "public" || image.visibility === "community" || image.owner === projectId;
  }
}
