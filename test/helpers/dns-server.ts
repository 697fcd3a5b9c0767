import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import * as dnsPacket from "dns-packet";

/**
 * A DNS server for tests: UDP on 127.0.0.1, port 0, answering MX, A, AAAA and TXT questions from
 * a table. A name missing from the table is NXDOMAIN; a name present without records of the
 * asked type is an empty NOERROR answer (NODATA); a name marked `servfail` gets SERVFAIL.
 */

export interface DnsZone {
  mx?: { preference: number; exchange: string }[];
  a?: string[];
  aaaa?: string[];
  /** TXT records, one string per record (e.g. "v=STSv1; id=1" at _mta-sts.DOMAIN). */
  txt?: string[];
  /** Answer SERVFAIL to every question about this name. */
  servfail?: boolean;
}

export interface DnsServer {
  /** "127.0.0.1:PORT", as delivery.dnsServers takes it. */
  address: string;
  /** Questions asked, as "TYPE name". */
  queries: string[];
  zones: Map<string, DnsZone>;
  close(): Promise<void>;
}

export async function startDnsServer(table: Record<string, DnsZone>): Promise<DnsServer> {
  const zones = new Map(Object.entries(table).map(([k, v]) => [k.toLowerCase(), v]));
  const queries: string[] = [];
  const socket = createSocket("udp4");

  socket.on("message", (msg, rinfo) => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase().replace(/\.$/, "");
    queries.push(`${question.type} ${name}`);
    const zone = zones.get(name);
    const answers: dnsPacket.Answer[] = [];
    let rcode = 0; // NOERROR
    if (!zone)
      rcode = 3; // NXDOMAIN
    else if (zone.servfail)
      rcode = 2; // SERVFAIL
    else if (question.type === "MX") {
      for (const mx of zone.mx ?? []) {
        answers.push({ type: "MX", name: question.name, ttl: 60, data: mx });
      }
    } else if (question.type === "A") {
      for (const a of zone.a ?? [])
        answers.push({ type: "A", name: question.name, ttl: 60, data: a });
    } else if (question.type === "AAAA") {
      for (const a of zone.aaaa ?? []) {
        answers.push({ type: "AAAA", name: question.name, ttl: 60, data: a });
      }
    } else if (question.type === "TXT") {
      for (const txt of zone.txt ?? []) {
        answers.push({ type: "TXT", name: question.name, ttl: 60, data: txt });
      }
    }
    const response = dnsPacket.encode({
      id: query.id ?? 0,
      type: "response",
      // dns-packet encodes the rcode only as the low four bits of flags (RFC 1035 §4.1.1).
      flags:
        dnsPacket.RECURSION_DESIRED |
        dnsPacket.RECURSION_AVAILABLE |
        dnsPacket.AUTHORITATIVE_ANSWER |
        rcode,
      questions: [question],
      answers,
    } as dnsPacket.Packet);
    socket.send(response, rinfo.port, rinfo.address);
  });

  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    queries,
    zones,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
