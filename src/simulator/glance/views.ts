// Glance v2's image representation: schema properties plus the image's own properties at the
// top level, and the self/file/schema links relative to the API root as Glance writes them.
import type { ImageRecord } from "./state.ts";

export function imageView(i: ImageRecord): Record<string, unknown> {
  return {
    ...i.properties,
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    protected: i.protected,
    os_hidden: i.os_hidden,
    disk_format: i.disk_format,
    container_format: i.container_format,
    min_disk: i.min_disk,
    min_ram: i.min_ram,
    size: i.size,
    virtual_size: i.virtual_size,
    checksum: i.checksum,
    os_hash_algo: i.os_hash_algo,
    os_hash_value: i.os_hash_value,
    owner: i.owner,
    tags: [...i.tags],
    created_at: i.created_at,
    updated_at: i.updated_at,
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: "/v2/schemas/image",
  };
}
