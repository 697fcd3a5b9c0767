/** The smtp-server instance as the ingress needs it: replies from our table, and listening. */
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { splitHostPort } from "../config/index.js";
import { adaptLibraryReply } from "./replies.js";

type Connection = SMTPServer["connections"] extends Set<infer C> ? C : never;

/**
 * smtp-server sends its own replies with an enhanced code derived from the numeric code only
 * (550 becomes 5.1.1). Each new connection's send() goes through adaptLibraryReply so that
 * every reply comes from the table in replies.ts.
 */
export class GatewaySmtpServer extends SMTPServer {
  readonly #adapted = new WeakSet<object>();

  override connect(...args: Parameters<SMTPServer["connect"]>): void {
    super.connect(...args);
    let newest: Connection | undefined;
    for (const c of this.connections) newest = c;
    if (!newest || this.#adapted.has(newest)) return;
    this.#adapted.add(newest);
    const send = newest.send.bind(newest);
    newest.send = (code, data, context) => {
      const r = adaptLibraryReply({ code, data, context });
      send(r.code, r.data, r.context);
    };
  }
}

/** Binds the listener; resolves with the address actually bound (port 0 picks one). */
export function listen(server: SMTPServer, where: string): Promise<{ host: string; port: number }> {
  const { host, port } = splitHostPort(where);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.server.once("error", onError);
    server.server.listen(port, host, () => {
      server.server.off("error", onError);
      const addr = server.server.address() as AddressInfo;
      resolve({ host: addr.address, port: addr.port });
    });
  });
}
