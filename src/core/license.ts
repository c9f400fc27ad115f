// The license as the core sees it (a port): whether the broker may serve, and what /v1/info
// shows. The signed file behind it is read and verified by src/adapters/license-file.ts.

export interface LicenseFields {
  created_at: number;
  expire_at: number;
  module_package: string;
  name: string;
  product: string;
  surrogate_name: string;
  unique_id: string;
}

/** What /v1/info shows: the license's fields, whether its signature checks, and why not. */
export type LicenseInfo = Partial<LicenseFields> & {
  verified: boolean;
  /** Extension: expire_at has passed (or is missing). */
  expired: boolean;
  /** Extension: why the license is not verified. */
  error?: string;
};

export interface License {
  /** The license with `verified`, or null when no license file is configured. */
  current(): Promise<LicenseInfo | null>;
  /** What the broker asks: true unless enforcement is on and the configured license is not valid. */
  allowsService(): Promise<boolean>;
}
