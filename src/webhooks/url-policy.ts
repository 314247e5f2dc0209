import { BlockList, isIP } from 'node:net';

/**
 * Which endpoint URLs are accepted. Endpoints are trusted operator configuration (only `admin`
 * manages them), yet a URL is where the service sends every event: it must be http(s), bounded,
 * and carry no credentials (a `user:password@` would be stored and shown with the endpoint). In
 * production the service also refuses loopback, private, link-local and unspecified addresses
 * and `localhost` names (WEBHOOK_PRIVATE_URLS=refuse): an admin token must not turn the service
 * into a client of its own network. Names are not resolved: a public name pointing inside is the
 * operator's own configuration, like the endpoint itself.
 */
export interface UrlPolicy {
  length_max: number;
  private_urls: 'allow' | 'refuse';
}

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  // Benchmarking, multicast, and the reserved block with the broadcast address: no receiver there.
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  // Site-local (deprecated, still routed inside some networks); IPv4-translated (SIIT) and 6to4
  // addresses, which carry an IPv4 address the rules above cannot see: none is a public endpoint.
  ['fec0::', 10],
  ['::ffff:0:0:0', 96],
  ['2002::', 16],
  // Local-use NAT64 (RFC 8215, the operator's own translator) and multicast.
  ['64:ff9b:1::', 48],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

// `user:pass@` (even an empty `@`) in the authority.
const USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i;

// An IPv4 address carried in the last 32 bits of an IPv6 one, as the URL parser writes it:
// IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::a.b.c.d) reach that IPv4 host.
// (IPv4-mapped ::ffff:a.b.c.d is checked against the IPv4 rules by BlockList itself.)
const EMBEDDED_IPV4 = /^(?::|64:ff9b:):([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

function embeddedIpv4(host: string): string | undefined {
  const groups = EMBEDDED_IPV4.exec(host);
  if (!groups) return undefined;
  const value = (Number.parseInt(groups[1]!, 16) << 16) + Number.parseInt(groups[2]!, 16);
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

// The names every resolver's hosts file gives the loopback address.
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

function isPrivateHost(hostname: string): boolean {
  // A trailing dot names the same host (`localhost.`).
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (LOOPBACK_NAMES.has(host) || host.endsWith('.localhost')) return true;
  const embedded = embeddedIpv4(host);
  const family = isIP(embedded ?? host);
  if (family === 0) return false;
  return PRIVATE.check(embedded ?? host, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why `url` cannot be an endpoint, or undefined when it can. */
export function endpointUrlProblem(url: string, policy: UrlPolicy): string | undefined {
  if (url.length > policy.length_max) return `must be at most ${policy.length_max} characters`;
  // Stored and shown as sent, so it must already be written as the URL it is: no surrounding or
  // embedded white space or control characters, and `scheme://` spelled out.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be found
  if (/[\s\u0000-\u001f\u007f]/.test(url) || !/^https?:\/\//i.test(url))
    return 'must be an absolute http or https URL, written without spaces';
  // The parser skips more slashes (or backslashes) after `http://`: `http:///u:p@host` is `u:p@host`
  // to it, which the credentials check below, reading the text, would not see.
  if (/^https?:\/\/[/\\]/i.test(url)) return 'must name its host right after http:// or https://';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http or https URL';
  if (USERINFO.test(url) || parsed.username !== '' || parsed.password !== '') return 'must not carry credentials (user:password@)';
  if (parsed.hostname === '') return 'must name a host';
  if (parsed.port === '0') return 'must not name port 0';
  // A fragment never leaves the client: stored and shown, it would say the URL is one it is not.
  if (url.includes('#')) return 'must not carry a fragment (#...): it is never sent';
  if (policy.private_urls === 'refuse' && isPrivateHost(parsed.hostname)) {
    return 'must not name a loopback, private or link-local address (WEBHOOK_PRIVATE_URLS=refuse)';
  }
  return undefined;
}
