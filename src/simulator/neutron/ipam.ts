// IPv4 address management for simulated subnets: pools derived from the CIDR as Neutron does
// (network, gateway and broadcast excluded), and a cursor so that allocating thousands of
// addresses stays linear instead of rescanning the pool each time.

export interface AllocationPool {
  start: string;
  end: string;
}

export function ipToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`invalid IPv4 address ${ip}`);
  }
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export interface ParsedCidr {
  network: number;
  prefix: number;
  size: number;
}

/** Parses an IPv4 CIDR; undefined when it is not one. Host bits must be zero, as Neutron requires. */
export function parseCidr(cidr: string): ParsedCidr | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const prefix = Number(m[2]);
  if (prefix > 32) return undefined;
  let addr: number;
  try {
    addr = ipToInt(m[1]!);
  } catch {
    return undefined;
  }
  const size = 2 ** (32 - prefix);
  if (addr % size !== 0) return undefined;
  return { network: addr, prefix, size };
}

export function cidrContains(cidr: ParsedCidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

/** Neutron's default pools: every host address but the gateway (first host by default). */
export function defaultPools(cidr: ParsedCidr, gatewayIp: string | null): AllocationPool[] {
  if (cidr.size < 4) return [];
  const first = cidr.network + 1;
  const last = cidr.network + cidr.size - 2;
  const gw = gatewayIp ? ipToInt(gatewayIp) : undefined;
  if (gw === first) return [{ start: intToIp(first + 1), end: intToIp(last) }];
  if (gw === last) return [{ start: intToIp(first), end: intToIp(last - 1) }];
  if (gw !== undefined && gw > first && gw < last) {
    return [
      { start: intToIp(first), end: intToIp(gw - 1) },
      { start: intToIp(gw + 1), end: intToIp(last) },
    ];
  }
  return [{ start: intToIp(first), end: intToIp(last) }];
}

/** Next free address of the pools at or after the cursor, wrapping once; undefined when full. */
export function nextFreeIp(
  pools: AllocationPool[],
  used: Set<string>,
  cursor: number,
): { ip: string; cursor: number } | undefined {
  const ranges = pools.map((p) => [ipToInt(p.start), ipToInt(p.end)] as const);
  const total = ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
  if (used.size >= total) {
    // Fast exit only; used may hold addresses outside the pools, so fall through when unsure.
    let inPools = 0;
    for (const ip of used) {
      const n = ipToInt(ip);
      if (ranges.some(([a, b]) => n >= a && n <= b)) inPools++;
    }
    if (inPools >= total) return undefined;
  }
  for (let pass = 0; pass < 2; pass++) {
    for (const [a, b] of ranges) {
      const from = pass === 0 ? Math.max(a, cursor) : a;
      const to = pass === 0 ? b : Math.min(b, cursor - 1);
      for (let n = from; n <= to; n++) {
        const ip = intToIp(n);
        if (!used.has(ip)) return { ip, cursor: n + 1 };
      }
    }
  }
  return undefined;
}
