import { isIP } from "node:net";

/**
 * Which IP addresses a webhook may reach. Everything that is not ordinary public unicast is
 * refused: loopback, private, shared (CGNAT), link-local (including the cloud metadata address
 * 169.254.169.254), unspecified, multicast, reserved and documentation ranges, and their IPv6
 * counterparts. IPv6 forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, the
 * deprecated IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the
 * embedded IPv4 address, so ::ffff:127.0.0.1 is loopback.
 */
type Range = readonly [base: bigint, prefix: number, why: string];

const V4_RANGES: readonly Range[] = [
  [v4("0.0.0.0"), 8, "unspecified"],
  [v4("10.0.0.0"), 8, "private"],
  [v4("100.64.0.0"), 10, "shared address space"],
  [v4("127.0.0.0"), 8, "loopback"],
  [v4("169.254.0.0"), 16, "link-local"],
  [v4("172.16.0.0"), 12, "private"],
  [v4("192.0.0.0"), 24, "IETF protocol assignments"],
  [v4("192.0.2.0"), 24, "documentation"],
  [v4("192.88.99.0"), 24, "6to4 relay anycast"],
  [v4("192.168.0.0"), 16, "private"],
  [v4("198.18.0.0"), 15, "benchmarking"],
  [v4("198.51.100.0"), 24, "documentation"],
  [v4("203.0.113.0"), 24, "documentation"],
  [v4("224.0.0.0"), 4, "multicast"],
  [v4("240.0.0.0"), 4, "reserved"],
];

const V6_RANGES: readonly Range[] = [
  [v6("::"), 128, "unspecified"],
  [v6("::1"), 128, "loopback"],
  [v6("64:ff9b:1::"), 48, "local-use NAT64"],
  [v6("100::"), 64, "discard-only"],
  [v6("2001::"), 23, "IETF protocol assignments"],
  [v6("2001:db8::"), 32, "documentation"],
  [v6("3fff::"), 20, "documentation"],
  [v6("fc00::"), 7, "unique local (private)"],
  [v6("fe80::"), 10, "link-local"],
  [v6("fec0::"), 10, "site-local"],
  [v6("ff00::"), 8, "multicast"],
];

/** Why `address` may not be reached, or undefined when it is public. Throws on a non-IP. */
export function forbiddenReason(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, ""); // brackets, IPv6 zone id
  const family = isIP(bare);
  if (family === 4) return match(v4(bare), 32, V4_RANGES);
  if (family !== 6) throw new TypeError(`not an IP address: ${address}`);
  const value = v6(bare);
  const embedded = embeddedV4(value);
  if (embedded !== undefined) {
    const inner = match(embedded, 32, V4_RANGES);
    return inner === undefined ? undefined : `${inner} (IPv4 inside IPv6)`;
  }
  const special = match(value, 128, V6_RANGES);
  if (special !== undefined) return special;
  // Only 2000::/3 is allocated as global unicast; anything else is not a public host.
  return value >> 125n === 1n ? undefined : "not global unicast";
}

function match(value: bigint, bits: number, ranges: readonly Range[]): string | undefined {
  for (const [base, prefix, why] of ranges) {
    const shift = BigInt(bits - prefix);
    if (value >> shift === base >> shift) return why;
  }
  return undefined;
}

function embeddedV4(value: bigint): bigint | undefined {
  const low32 = value & 0xffffffffn;
  if (value >> 32n === 0xffffn) return low32; // ::ffff:a.b.c.d, IPv4-mapped
  if (value >> 32n === 0n && value > 1n) return low32; // ::a.b.c.d, IPv4-compatible (not :: or ::1)
  if (value >> 32n === 0x64ff9b0000000000000000n) return low32; // 64:ff9b::/96, NAT64
  if (value >> 112n === 0x2002n) return (value >> 80n) & 0xffffffffn; // 2002:aabb:ccdd::/48, 6to4
  return undefined;
}

function v4(text: string): bigint {
  return text.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6(text: string): bigint {
  let head = text;
  let tail32: bigint | undefined;
  const dotted = text.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    head = `${dotted[1]}0:0`; // the dotted quad fills the last two hextets
    tail32 = v4(dotted[2]!);
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, undefined];
  const leftParts = left ? left.split(":") : [];
  const rightParts = right === undefined ? [] : right ? right.split(":") : [];
  const missing = 8 - leftParts.length - rightParts.length;
  const hextets = [...leftParts, ...Array<string>(right === undefined ? 0 : missing).fill("0"), ...rightParts];
  let value = hextets.reduce((acc, part) => (acc << 16n) | BigInt(parseInt(part, 16)), 0n);
  if (tail32 !== undefined) value = (value & ~0xffffffffn) | tail32;
  return value;
}
