import { describe, expect, it } from "vitest";
import { forbiddenReason } from "../../../src/services/webhooks/index.js";

describe("webhook address policy", () => {
  const forbidden: [string, RegExp][] = [
    ["127.0.0.1", /loopback/],
    ["127.255.255.254", /loopback/],
    ["10.1.2.3", /private/],
    ["172.16.0.1", /private/],
    ["172.31.255.255", /private/],
    ["192.168.1.1", /private/],
    ["169.254.169.254", /link-local/],
    ["100.64.0.1", /shared/],
    ["0.0.0.0", /unspecified/],
    ["224.0.0.1", /multicast/],
    ["255.255.255.255", /reserved/],
    ["198.51.100.7", /documentation/],
    ["::1", /loopback/],
    ["[::1]", /loopback/],
    ["::", /unspecified/],
    ["0:0:0:0:0:0:0:1", /loopback/],
    ["fe80::1", /link-local/],
    ["fe80::1%eth0", /link-local/],
    ["febf:ffff::1", /link-local/],
    ["fc00::1", /unique local/],
    ["fd12:3456:789a::1", /unique local/],
    ["ff02::1", /multicast/],
    ["2001:db8::1", /documentation/],
    ["::ffff:127.0.0.1", /loopback \(IPv4 inside IPv6\)/],
    ["::ffff:7f00:1", /loopback/],
    ["::FFFF:A9FE:A9FE", /link-local/],
    ["::ffff:169.254.169.254", /link-local/],
    ["::ffff:10.0.0.1", /private/],
    ["::127.0.0.1", /loopback/],
    ["64:ff9b::a9fe:a9fe", /link-local/],
    ["64:ff9b::192.168.0.1", /private/],
    ["2002:7f00:1::1", /loopback/],
    ["2002:a9fe:a9fe::", /link-local/],
    ["fbff::1", /not global unicast/],
    ["4000::1", /not global unicast/],
  ];
  const allowed = [
    "8.8.8.8",
    "1.1.1.1",
    "172.15.255.255",
    "172.32.0.1",
    "100.63.255.255",
    "100.128.0.1",
    "169.253.1.1",
    "11.0.0.1",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ];

  it.each(forbidden)("refuses %s", (address, why) => {
    expect(forbiddenReason(address)).toMatch(why);
  });

  it.each(allowed)("allows %s", (address) => {
    expect(forbiddenReason(address)).toBeUndefined();
  });

  it("throws on something that is not an IP address", () => {
    expect(() => forbiddenReason("example.com")).toThrow(TypeError);
  });
});
