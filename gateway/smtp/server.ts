import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import type { Config, ConnectorConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import {
  ConnectorConfigError,
  ConnectorTable,
  normalizeClientIp,
  senderDomainOf,
} from "./connectors.js";
import { envelopeAddress } from "./addresses.js";
import { readData, type DataDecision } from "./message.js";
import { replyText, SmtpReply, type ReplyName } from "./replies.js";
import { verifiedPeerNames } from "./tls.js";
import { GatewaySmtpServer, listen } from "./wire.js";

export interface IngressOptions {
  config: Config;
  /** enqueue() must resolve before the 250 is sent. */
  store: Store;
  logger: Logger;
  tls: { key: string | Buffer; cert: string | Buffer };
  /** Called after each 250 so the queue runner wakes up. */
  onQueued?: (queueId: string) => void;
  /**
   * Loop-guard secret resolved by the app. Default: config.loopGuard.secret; with neither,
   * no stamp is trusted and every message is processed as new.
   */
  loopSecret?: string | undefined;
}

export interface Ingress {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/** How long close() lets open sessions finish before they are cut. */
const CLOSE_TIMEOUT_MS = 10_000;
/** Command lines are 512 octets (RFC 5321 §4.5.3.1.4) plus room for MAIL/RCPT parameters. */
const MAX_COMMAND_OCTETS = 4096;

/** Per-connection state, kept from connect to close for decisions and the summary line. */
interface Session {
  cid: string;
  clientIp: string;
  startedAt: number;
  counted: boolean;
  candidates: ConnectorConfig[];
  mailCandidates: ConnectorConfig[];
  certNames: string[];
  tls: boolean;
  accepted: number;
  /** Messages refused after DATA or by the store. */
  refused: number;
  refusedAtConnect: ReplyName | null;
  /** Why MAIL FROM or RCPT TO were refused, for the connection summary. */
  envelopeRefusals: Set<ReplyName>;
}

export function createIngress(options: IngressOptions): Ingress {
  const { config, store, logger } = options;
  const smtp = config.smtp;
  const connectors = new ConnectorTable(smtp.connectors);
  const loopSecret = options.loopSecret ?? config.loopGuard.secret;
  const sessions = new Map<string, Session>();
  const perIp = new Map<string, number>();
  let open = 0;

  let clientCa: string | undefined;
  if (connectors.wantsClientCert) {
    if (!smtp.clientCaFile) {
      throw new ConnectorConfigError(
        "a connector sets clientCertSubject but smtp.clientCaFile is not set",
      );
    }
    try {
      clientCa = readFileSync(smtp.clientCaFile, "utf8");
    } catch (err) {
      throw new ConnectorConfigError("cannot read smtp.clientCaFile", { cause: err });
    }
  }
  if (!loopSecret) {
    logger.warn({ event: "smtp:config" }, "no loop-guard secret: stamps are not trusted");
  }

  const release = (s: Session) => {
    if (!s.counted) return;
    s.counted = false;
    open--;
    const left = (perIp.get(s.clientIp) ?? 1) - 1;
    if (left <= 0) perIp.delete(s.clientIp);
    else perIp.set(s.clientIp, left);
  };

  const onConnect = (session: SMTPServerSession, done: (err?: Error | null) => void) => {
    const ip = normalizeClientIp(session.remoteAddress)?.toString() ?? session.remoteAddress;
    const s: Session = {
      cid: session.id,
      clientIp: ip,
      startedAt: Date.now(),
      counted: false,
      candidates: connectors.forClient(ip),
      mailCandidates: [],
      certNames: [],
      tls: false,
      accepted: 0,
      refused: 0,
      refusedAtConnect: null,
      envelopeRefusals: new Set(),
    };
    sessions.set(session.id, s);
    const refuse = (reply: ReplyName) => {
      s.refusedAtConnect = reply;
      done(new SmtpReply(reply, { ref: s.cid }));
    };
    if (s.candidates.length === 0) return refuse("clientNotAllowed");
    if (open >= smtp.maxConnections) return refuse("tooManyConnections");
    if ((perIp.get(ip) ?? 0) >= smtp.maxConnectionsPerIp) return refuse("tooManyConnectionsFromIp");
    s.counted = true;
    open++;
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
    done();
  };

  const onSecure = (socket: Socket, session: SMTPServerSession, done: () => void) => {
    const s = sessions.get(session.id);
    if (s) {
      s.tls = true;
      s.certNames = socket instanceof TLSSocket ? verifiedPeerNames(socket) : [];
    }
    done();
  };

  const onMailFrom = (
    address: SMTPServerAddress,
    session: SMTPServerSession,
    done: (err?: Error | null) => void,
  ) => {
    const s = sessions.get(session.id);
    if (!s) return done(new SmtpReply("spoolFailed"));
    const refuse = (reply: ReplyName) => {
      s.envelopeRefusals.add(reply);
      done(new SmtpReply(reply, { ref: s.cid }));
    };
    if (smtp.requireTls && !session.secure) return refuse("tlsRequired");
    const form = envelopeAddress(address.address, session.envelope.smtpUtf8 === true);
    if (form.kind === "reject") return refuse(form.reply);
    const decision = connectors.forMail(s.candidates, {
      senderDomain: senderDomainOf(address.address),
      certNames: s.certNames,
    });
    if (decision.kind === "reject") return refuse(decision.reply);
    s.mailCandidates = decision.connectors;
    done();
  };

  const onRcptTo = (
    address: SMTPServerAddress,
    session: SMTPServerSession,
    done: (err?: Error | null) => void,
  ) => {
    const form = envelopeAddress(address.address, session.envelope.smtpUtf8 === true);
    if (form.kind === "ok") return done();
    sessions.get(session.id)?.envelopeRefusals.add(form.reply);
    done(new SmtpReply(form.reply));
  };

  const onData = (
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    done: (err?: Error | null, message?: string) => void,
  ) => {
    const s = sessions.get(session.id);
    const envelope = session.envelope;
    const smtpUtf8 = envelope.smtpUtf8 === true;
    // onMailFrom/onRcptTo refused what has no ASCII form, so these are all "ok".
    const ascii = (a: string) => {
      const form = envelopeAddress(a, smtpUtf8);
      return form.kind === "ok" ? form.address : a;
    };
    const rcptTo = envelope.rcptTo.map((r) => ascii(r.address));
    if (!s || !envelope.mailFrom) {
      stream.resume();
      return done(new SmtpReply("spoolFailed"));
    }
    // smtp-server must hear about a message exactly once, whatever fails after the reply.
    let answered = false;
    const answer: typeof done = (err, message) => {
      if (answered) return;
      answered = true;
      done(err, message);
    };
    void readData(stream, {
      config,
      connectors,
      candidates: s.mailCandidates,
      envelope: {
        mailFrom: ascii(envelope.mailFrom.address),
        rcptTo,
        eightBit: envelope.bodyType === "8bitmime",
        smtpUtf8,
      },
      clientIp: s.clientIp,
      loopSecret,
    })
      .then((decision) => finishData(s, { decision, rcptCount: rcptTo.length, done: answer }))
      .catch((err: unknown) => {
        // Only reached on a bug: keep the process up and let the client retry.
        logger.error({ event: "smtp:message", cid: s.cid, errorCode: errorCode(err) }, "failed");
        answer(new SmtpReply("spoolFailed", { ref: s.cid }));
      });
  };

  const finishData = async (
    s: Session,
    step: {
      decision: DataDecision;
      rcptCount: number;
      done: (err?: Error | null, message?: string) => void;
    },
  ) => {
    const { decision, rcptCount, done } = step;
    const summary = { event: "smtp:message", cid: s.cid, clientIp: s.clientIp, rcptCount };
    if (decision.kind === "aborted") {
      logger.info({ ...summary, size: decision.size, outcome: "aborted" }, "client left in DATA");
      return done(new SmtpReply("spoolFailed"));
    }
    if (decision.kind === "refuse") {
      s.refused++;
      const reply = new SmtpReply(decision.reply, { ref: s.cid });
      logger.info(
        { ...summary, size: decision.size, outcome: "refused", reason: decision.reply },
        reply.message,
      );
      return done(reply);
    }
    const { message } = decision;
    let queueId: string;
    try {
      queueId = await store.enqueue(message, {
        size: decision.size,
        recipients: rcptCount,
        connector: message.connector,
      });
    } catch (err) {
      s.refused++;
      logger.error(
        { ...summary, outcome: "spool-failed", errorCode: errorCode(err) },
        "could not store the message; answered 451",
      );
      return done(new SmtpReply("spoolFailed", { ref: s.cid, cause: err }));
    }
    s.accepted++;
    done(null, replyText("queued", queueId));
    logger.info(
      {
        ...summary,
        queueId,
        connector: message.connector,
        size: decision.size,
        eightBit: message.eightBit,
        smtpUtf8: message.smtpUtf8,
        loopHops: message.loop?.hops ?? 0,
        outcome: "queued",
      },
      "message queued",
    );
    try {
      options.onQueued?.(queueId);
    } catch (err) {
      logger.error(
        { event: "smtp:message", queueId, errorCode: errorCode(err) },
        "onQueued failed",
      );
    }
  };

  const onClose = (session: SMTPServerSession) => {
    const s = sessions.get(session.id);
    if (!s) return;
    sessions.delete(session.id);
    release(s);
    logger.info(
      {
        event: "smtp:connection",
        cid: s.cid,
        clientIp: s.clientIp,
        connectors: s.candidates.map((c) => c.name),
        tls: s.tls,
        accepted: s.accepted,
        refused: s.refused,
        refusedAtConnect: s.refusedAtConnect,
        envelopeRefusals: [...s.envelopeRefusals],
        durationMs: Date.now() - s.startedAt,
      },
      "connection closed",
    );
  };

  const server = new GatewaySmtpServer({
    name: smtp.hostname,
    key: options.tls.key,
    cert: options.tls.cert,
    minVersion: "TLSv1.2",
    ...(clientCa ? { requestCert: true, rejectUnauthorized: false, ca: clientCa } : {}),
    logger: false,
    disabledCommands: ["AUTH"],
    hideENHANCEDSTATUSCODES: false,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    size: smtp.maxMessageBytes,
    maxRecipients: smtp.maxRecipients,
    socketTimeout: smtp.idleTimeout * 1000,
    closeTimeout: CLOSE_TIMEOUT_MS,
    maxCommandLength: MAX_COMMAND_OCTETS,
    disableReverseLookup: true,
    onConnect,
    onSecure,
    onMailFrom,
    onRcptTo,
    onData,
    onClose,
  });
  server.on("error", (err: Error & { code?: string }) => {
    logger.warn({ event: "smtp:error", errorCode: err.code ?? err.name }, "smtp connection error");
  });

  return {
    listen: () => listen(server, smtp.listen),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A stable error code to log: the error's `code`, else its class name; never its text. */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return err instanceof Error ? err.name : "unknown";
}
