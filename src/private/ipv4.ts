/** Small IPv4 arithmetic for fixed addresses on Docker networks. */

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Subnet {
  /** The network address, e.g. "10.213.0.0". */
  readonly base: number;
  readonly prefixLength: number;
  readonly size: number;
}

/** "10.213.0.0/24" → its base and size; undefined when the address has host bits set. */
export function parseSubnet(cidr: string): Subnet | undefined {
  const [addr, bits] = cidr.split('/');
  const prefixLength = Number(bits);
  const size = 2 ** (32 - prefixLength);
  const base = ipToInt(addr);
  return base % size === 0 ? { base, prefixLength, size } : undefined;
}

/** The n-th address of a subnet (0 is the network address). */
export const nthAddress = (s: Subnet, n: number) => intToIp(s.base + n);

/** A usable host address of the subnet: not the network or broadcast address. */
export const isHostIn = (s: Subnet, ip: string) => ipToInt(ip) > s.base && ipToInt(ip) < s.base + s.size - 1;

/** In the lower half of the subnet (below Docker's dynamic range when that is the upper half). */
export const isInLowerHalf = (s: Subnet, ip: string) => ipToInt(ip) < s.base + s.size / 2;

/** The upper half of the subnet, for Docker's `ipRange`: dynamic addresses stay out of the lower half. */
export const upperHalf = (s: Subnet) => `${intToIp(s.base + s.size / 2)}/${s.prefixLength + 1}`;
