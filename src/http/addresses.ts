// Which client addresses a rule lets in: a list of CIDRs (or single addresses), IPv4 and IPv6,
// with IPv4-mapped IPv6 addresses (::ffff:127.0.0.1, as a dual-stack socket reports them)
// matched as the IPv4 address they are.
import { BlockList, isIP } from "node:net";

export type AddressMatcher = (address: string) => boolean;

export function addressMatcher(cidrs: readonly string[]): AddressMatcher {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split("/");
    const family = isIP(address);
    if (!family) throw new Error(`not an address or CIDR: ${cidr}`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return (raw) => {
    const address = raw.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
  };
}
