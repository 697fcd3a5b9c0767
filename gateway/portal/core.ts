import { createHmac } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Config } from "../config/index.js";
import type { AttemptResult, RecipientReply } from "../deliver/index.js";
import type { EventName } from "../events.js";
import type { Logger } from "../log.js";
import type {
  FailureKind,
  LeasedDelivery,
  PortalStore,
  Store,
  StoredPortalMessage,
} from "../store/index.js";
import {
  checkPassword,
  codeHash,
  hashPassword,
  newCode,
  newPortalId,
  newSecret,
  openBody,
  sameText,
  sealBody,
  sha256,
} from "./crypto.js";
import { PortalError } from "./errors.js";
import {
  buildCodeMail,
  buildNotice,
  buildReply,
  buildSenderCopy,
  generated,
  headerFacts,
} from "./mail.js";
import type {
  AccountStatus,
  CodeCheck,
  CodePurpose,
  CodeSend,
  PassphraseCheck,
  NewSession,
  OpenResult,
  PasswordCheck,
  PortalMeta,
  PortalService,
  PortalStatus,
  PortalSummary,
  ReplyRequest,
  ReplyResult,
  RevokeResult,
  SessionInfo,
  TokenTarget,
} from "./service.js";
import { en, type Strings } from "./web/strings.js";

/**
 * The portal core: wraps a sensitive copy for a recipient (sealed body, notice with a link),
 * and answers the web pages (codes, passwords, sessions, reading, replying), recording an
 * audit event for each step against the original message's queue id. Nothing here logs an
 * address, a subject or a body; events name portal ids and counts.
 */

export interface PortalCoreOptions {
  /** The portal tables. */
  portal: PortalStore;
  /** The queue: notices, codes and replies are enqueued there; events are recorded there. */
  queue: Store;
  config: Config;
  /** Key-encryption key that wraps each message's data key. */
  kek: Buffer;
  logger: Logger;
  /** Clock; tests move it to expire messages and locks. Default: now. */
  now?: (() => Date) | undefined;
  /** Told after a code mail or a reply is queued, so the queue runner looks now. */
  onQueued?: (() => void) | undefined;
  /** The language of notices and code mail. Default English (web/strings.ts). */
  strings?: Strings | undefined;
  /** Where `{env: NAME}` passphrases are read. Default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

/** What policy decided for a message's portal copies (its policy:verdict event). */
interface CopyPolicy {
  days: number;
  showSubject: boolean;
  passphraseFrom: { env: string } | { file: string } | null;
}

/** Passwords the portal accepts, in characters (NIST SP 800-63B §3.1.1.2: long, not complex). */
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;

/** Audit events with no message of their own (a sign-in without a link) go under this id. */
export const ACCOUNT_EVENTS_ID = "portal-accounts";

/** A hash to compare against when the account has none, so timing tells nothing. */
let dummyHash: Promise<string> | null = null;

export class PortalCore implements PortalService {
  readonly #o: PortalCoreOptions;
  readonly #tokenKey: Buffer;
  readonly #log: Logger;
  readonly #s: Strings;

  constructor(options: PortalCoreOptions) {
    this.#o = options;
    this.#s = options.strings ?? en;
    // Link tokens are derived, not drawn: a retried wrap of the same copy (a crash between
    // storing and recording) mails a link that still works, and only the hash is stored.
    this.#tokenKey = createHmac("sha256", options.kek).update("sealgate portal token").digest();
    this.#log = options.logger.child({ component: "portal" });
  }

  get #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  get #c() {
    return this.#o.config.portal;
  }

  #listening: string | null = null;

  /** Tells the core where the HTTP listener is bound (port 0 gets its real port here). */
  listeningOn(address: { host: string; port: number }): void {
    const host = address.host.includes(":") ? `[${address.host}]` : address.host;
    this.#listening = `${host}:${address.port}`;
  }

  /** The public base URL of the portal (portal.baseUrl, else the listener), no trailing slash. */
  baseUrl(): string {
    const scheme = this.#c.tls ? "https" : "http";
    const base = this.#c.baseUrl ?? `${scheme}://${this.#listening ?? this.#o.config.httpListen}`;
    return base.replace(/\/+$/, "");
  }

  /**
   * The key for the pages' pre-session CSRF tokens, derived from the KEK: every node of a
   * cluster shares the KEK, so a form served by one node is accepted by another.
   */
  csrfKey(): Buffer {
    return createHmac("sha256", this.#o.kek).update("sealgate portal csrf").digest();
  }

  /**
   * A stable pseudonym for a portal account in events and logs: an admin who knows the
   * address can compute it (`sealgate portal account ADDRESS`); the audit trail alone never
   * names the address.
   */
  accountRef(address: string): string {
    const mac = createHmac("sha256", this.#tokenKey).update(`account:${norm(address)}`);
    return `acct-${mac.digest("base64url").slice(0, 16)}`;
  }

  #token(portalId: string): string {
    return createHmac("sha256", this.#tokenKey).update(`link:${portalId}`).digest("base64url");
  }

  #from(): string {
    return this.#c.noticeFrom ?? this.#o.config.delivery.postmaster;
  }

  async #event(queueId: string, name: EventName, recipient?: string, data?: object) {
    await this.#o.queue.recordEvent({
      queueId,
      name,
      recipient,
      data: data as Record<string, unknown> | undefined,
    });
  }

  /**
   * The delivery method for route "portal": stores the copy for each pending recipient and
   * queues their notice. Throws on any failure; the runner then defers the copy (it waits,
   * it is never sent another way).
   */
  async deliver(delivery: LeasedDelivery): Promise<AttemptResult> {
    const message = delivery.message;
    const facts = await headerFacts(delivery.raw, message.envelope.mailFrom);
    const replies: RecipientReply[] = [];
    const policy = await this.#copyPolicy(message.id);
    const days = policy.days;
    // Read and hashed at wrap time, once per run: the policy file names where it is kept.
    const passphrase = policy.passphraseFrom ? await this.#passphrase(policy.passphraseFrom) : null;
    // scrypt once per wrap, not per recipient: it is slow on purpose.
    const passphraseHash = passphrase === null ? null : await hashPassword(passphrase);
    for (const r of delivery.recipients) {
      if (r.state !== "pending") continue;
      const owner = r.address.toLowerCase();
      const existing = await this.#o.portal.findReceived(message.id, owner);
      const portalId = existing?.id ?? newPortalId();
      const createdAt = existing?.createdAt ?? this.#now;
      const expiresAt = new Date(createdAt.getTime() + days * 86_400_000);
      if (existing?.revokedAt) {
        // Withdrawn while the copy waited for a retry: nothing is stored or announced again.
        replies.push({
          address: r.address,
          kind: "accepted",
          reply: `250 2.0.0 portal message ${portalId} was revoked; no notice sent`,
        });
        continue;
      }
      const sealed = sealBody(delivery.raw, portalId, this.#o.kek);
      await this.#o.portal.putMessage({
        id: portalId,
        queueId: message.id,
        owner,
        direction: "received",
        counterpart: facts.fromAddress,
        counterpartName: facts.fromName,
        subject: policy.showSubject ? facts.subject : null,
        tokenHash: sha256(this.#token(portalId)),
        createdAt,
        expiresAt,
        wrappedKey: sealed.wrappedKey,
        body: sealed.body,
        passphraseHash,
        inReplyTo: null,
      });
      const noticeQueueId = await this.#queueNotice(portalId, owner, facts, {
        expiresAt,
        original: message,
        showSubject: policy.showSubject,
      });
      await this.#event(message.id, "portal:stored", r.address, {
        portalId,
        noticeQueueId,
        expiresAt: expiresAt.toISOString(),
        ...(passphrase === null ? {} : { passphrase: "required" }),
      });
      replies.push({
        address: r.address,
        kind: "accepted",
        reply: `250 2.0.0 stored in the portal as ${portalId}, notice ${noticeQueueId}`,
      });
    }
    return {
      kind: "replies",
      host: "portal",
      recipients: replies,
      tls: { used: false, version: null, verified: false, required: true },
    };
  }

  /**
   * What policy gave this message's portal copies (`encrypt: {portalExpiryDays, passphrase,
   * showSubject}`, recorded in its policy:verdict event), else the portal's configuration.
   */
  async #copyPolicy(queueId: string): Promise<CopyPolicy> {
    const events = await this.#o.queue.events(queueId);
    const data = events.findLast((e) => e.name === "policy:verdict")?.data ?? {};
    const days = data.portalExpiryDays;
    const show = data.portalShowSubject;
    const from = data.portalPassphraseFrom as Record<string, unknown> | undefined;
    let passphraseFrom: CopyPolicy["passphraseFrom"] = null;
    if (typeof from?.env === "string") passphraseFrom = { env: from.env };
    else if (typeof from?.file === "string") passphraseFrom = { file: from.file };
    else if (data.portalPassphrase !== undefined) {
      // Required, but the verdict does not say where from: never store the copy without it.
      throw new PortalError("PORTAL_PASSPHRASE_UNAVAILABLE", "policy asks for a passphrase");
    }
    return {
      days: typeof days === "number" && days > 0 ? days : this.#c.expiryDays,
      showSubject: typeof show === "boolean" ? show : this.#c.showSubject,
      passphraseFrom,
    };
  }

  /**
   * The passphrase policy named. Missing or empty fails the wrap (the runner defers the copy
   * and it is never sent without one); the error names the variable or file, not the value.
   */
  async #passphrase(from: { env: string } | { file: string }): Promise<string> {
    let value: string | undefined;
    let where: string;
    if ("env" in from) {
      where = `environment variable ${from.env}`;
      value = (this.#o.env ?? process.env)[from.env];
    } else {
      where = `file ${from.file}`;
      value = await readFile(from.file, "utf8").catch(() => undefined);
    }
    const trimmed = value?.replace(/\r?\n$/, "") ?? "";
    if (trimmed.length === 0) {
      throw new PortalError(
        "PORTAL_PASSPHRASE_UNAVAILABLE",
        `policy asks for a portal passphrase from the ${where}, which is missing or empty`,
      );
    }
    return trimmed;
  }

  async #queueNotice(
    portalId: string,
    to: string,
    facts: Awaited<ReturnType<typeof headerFacts>>,
    o: { expiresAt: Date; original: LeasedDelivery["message"]; showSubject: boolean },
  ): Promise<string> {
    const organisation = this.#o.config.organisation;
    const subject = o.showSubject && facts.subject ? facts.subject : this.#neutralSubject();
    const raw = await buildNotice({
      strings: this.#s,
      organisation,
      logoUrl: this.#c.organisationLogoUrl,
      subject,
      senderName: facts.fromName,
      link: `${this.baseUrl()}/m/${this.#token(portalId)}`,
      expiresAt: o.expiresAt,
      from: this.#from(),
      to,
    });
    const queueId = await this.#o.queue.enqueue(generated([to], raw, "notice"));
    const sender = o.original.envelope.mailFrom;
    if (this.#c.copySenderOnNotice && sender !== "" && o.original.origin === "ingress") {
      // A notice of its own, without the recipient's link: that link is the recipient's.
      const copy = await buildSenderCopy({
        strings: this.#s,
        organisation,
        logoUrl: this.#c.organisationLogoUrl,
        subject,
        recipient: to,
        expiresAt: o.expiresAt,
        from: this.#from(),
        to: sender,
      });
      await this.#o.queue.enqueue(generated([sender], copy, "notice"));
    }
    return queueId;
  }

  #neutralSubject(): string {
    return this.#o.config.secure.neutralSubject;
  }

  async resolveToken(token: string): Promise<TokenTarget | null> {
    const m = await this.#o.portal.messageByToken(sha256(token));
    return m && m.direction === "received" ? { portalId: m.id, address: m.owner } : null;
  }

  async accountStatus(address: string): Promise<AccountStatus> {
    const account = await this.#o.portal.getAccount(norm(address));
    return account?.passwordHash ? "active" : "new";
  }

  async sendCode(address: string, purpose: CodePurpose): Promise<CodeSend> {
    const owner = norm(address);
    if (!(await this.#o.portal.hasMessagesFor(owner))) return { kind: "no-mail" };
    const account = await this.#o.portal.getAccount(owner);
    const locked = account?.locks.code;
    if (this.#locked(locked)) return { kind: "locked", until: locked };
    const hour = 3_600_000;
    const max = this.#c.maxCodeMailsPerHour;
    if (!(await this.#o.portal.countCodeMail(owner, this.#now, hour, max))) {
      this.#log.warn({ event: "portal:code-throttled", purpose }, "portal code mail throttled");
      return { kind: "throttled" };
    }
    const code = newCode();
    const minutes = this.#c.codeTtlMinutes;
    await this.#o.portal.putCode({
      address: owner,
      purpose,
      codeHash: codeHash(owner, code),
      expiresAt: new Date(this.#now.getTime() + minutes * 60_000),
      verifiedAt: null,
    });
    const mail = await buildCodeMail({
      strings: this.#s,
      organisation: this.#o.config.organisation,
      from: this.#from(),
      to: owner,
      code,
      minutes,
    });
    const queueId = await this.#o.queue.enqueue(mail);
    this.#o.onQueued?.();
    this.#log.info({ event: "portal:code-sent", queueId, purpose }, "portal code queued");
    return { kind: "sent" };
  }

  #locked(until: Date | null | undefined): until is Date {
    return Boolean(until && until > this.#now);
  }

  async #fail(
    owner: string,
    kind: FailureKind,
    max: number,
    audit: { queueId: string; portalId?: string } = { queueId: ACCOUNT_EVENTS_ID },
  ) {
    const lockUntil = new Date(this.#now.getTime() + this.#c.lockMinutes * 60_000);
    const count = await this.#o.portal.recordFailure(owner, kind, max, lockUntil);
    await this.#event(audit.queueId, "portal:sign-in-failed", owner, {
      account: this.accountRef(owner),
      kind,
      ...(audit.portalId === undefined ? {} : { portalId: audit.portalId }),
      failures: count.failures,
      locked: count.lockedUntil !== null,
    });
    if (count.lockedUntil) {
      this.#log.warn(
        { event: "portal:locked", kind, account: this.accountRef(owner) },
        "portal address locked",
      );
      return { kind: "locked" as const, until: count.lockedUntil };
    }
    return { kind: "wrong" as const, remaining: Math.max(0, max - count.failures) };
  }

  async verifyCode(address: string, code: string): Promise<CodeCheck> {
    const owner = norm(address);
    const locked = (await this.#o.portal.getAccount(owner))?.locks.code;
    if (this.#locked(locked)) return { kind: "locked", until: locked };
    const stored = await this.#o.portal.getCode(owner);
    const usable = stored && stored.verifiedAt === null && stored.expiresAt > this.#now;
    if (!usable || !sameText(stored.codeHash, codeHash(owner, code))) {
      return this.#fail(owner, "code", this.#c.maxCodeAttempts);
    }
    await this.#o.portal.markCodeVerified(owner, this.#now);
    await this.#o.portal.clearFailures(owner, "code");
    return { kind: "ok" };
  }

  async setPassword(
    address: string,
    password: string,
    options: { keepSession?: string | undefined } = {},
  ): Promise<void> {
    const owner = norm(address);
    const length = [...password].length;
    if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
      throw new PortalError(
        "PORTAL_WEAK_PASSWORD",
        `a portal password has ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`,
      );
    }
    const code = await this.#o.portal.getCode(owner);
    if (!code?.verifiedAt || code.expiresAt <= this.#now) {
      throw new PortalError("PORTAL_NOT_VERIFIED", "no code was entered for this address lately");
    }
    await this.#o.portal.setPassword(owner, await hashPassword(password));
    await this.#o.portal.deleteCode(owner);
    // A new password ends every other session: whoever knew the old one (or held a session
    // from before a reset) is signed out everywhere.
    const keep = options.keepSession === undefined ? undefined : sha256(options.keepSession);
    const ended = await this.#o.portal.deleteSessionsFor(owner, keep);
    await this.#event(ACCOUNT_EVENTS_ID, "portal:password-set", owner, {
      account: this.accountRef(owner),
      purpose: code.purpose,
      sessionsEnded: ended,
    });
  }

  async verifyPassword(address: string, password: string): Promise<PasswordCheck> {
    const owner = norm(address);
    const account = await this.#o.portal.getAccount(owner);
    const locked = account?.locks.password;
    if (this.#locked(locked)) return { kind: "locked", until: locked };
    if (!account?.passwordHash) {
      // Hash anyway: an address without an account answers as slowly as one with.
      dummyHash ??= hashPassword(newSecret());
      await checkPassword(password, await dummyHash);
      const failed = await this.#fail(owner, "password", this.#c.maxPasswordAttempts);
      return failed.kind === "locked" ? failed : { kind: "no-account" };
    }
    if (!(await checkPassword(password, account.passwordHash))) {
      return this.#fail(owner, "password", this.#c.maxPasswordAttempts);
    }
    await this.#o.portal.clearFailures(owner, "password");
    return { kind: "ok" };
  }

  async createSession(address: string): Promise<NewSession> {
    const sessionId = newSecret();
    const csrfToken = newSecret();
    const createdAt = this.#now;
    const expiresAt = new Date(createdAt.getTime() + this.#c.sessionHours * 3_600_000);
    await this.#o.portal.putSession({
      idHash: sha256(sessionId),
      address: norm(address),
      csrfToken,
      createdAt,
      expiresAt,
    });
    return { sessionId, csrfToken, expiresAt };
  }

  async getSession(sessionId: string): Promise<SessionInfo | null> {
    const s = await this.#o.portal.getSession(sha256(sessionId));
    if (!s || s.expiresAt <= this.#now) return null;
    return { address: s.address, csrfToken: s.csrfToken, expiresAt: s.expiresAt };
  }

  async endSession(sessionId: string): Promise<void> {
    await this.#o.portal.deleteSession(sha256(sessionId));
  }

  #status(m: StoredPortalMessage): PortalStatus {
    if (m.revokedAt) return "revoked";
    if (m.expiresAt <= this.#now || m.body === null) return "expired";
    return "active";
  }

  #meta(m: StoredPortalMessage, status: PortalStatus = this.#status(m)): PortalMeta {
    return {
      portalId: m.id,
      queueId: m.queueId,
      direction: m.direction,
      senderName: m.counterpartName,
      senderAddress: m.counterpart,
      subject: m.subject ?? this.#neutralSubject(),
      sentAt: m.createdAt,
      expiresAt: m.expiresAt,
      status,
      passphrase: m.passphraseHash !== null,
    };
  }

  async inbox(address: string): Promise<PortalSummary[]> {
    const rows = await this.#o.portal.listMessages({ owner: norm(address) });
    // Lists come without the body: only revocation and the clock decide the status here.
    return rows.map((m) => {
      const status: PortalStatus = m.revokedAt
        ? "revoked"
        : m.expiresAt <= this.#now
          ? "expired"
          : "active";
      return this.#meta(m, status);
    });
  }

  /** The row, if it belongs to this address; another address's id reads as unknown. */
  async #owned(portalId: string, address: string): Promise<StoredPortalMessage | null> {
    const m = await this.#o.portal.getMessage(portalId);
    return m && m.owner === norm(address) ? m : null;
  }

  /** Whether the message needs no passphrase, or this session entered it. */
  async #unlocked(m: StoredPortalMessage, session: string | undefined): Promise<boolean> {
    if (m.passphraseHash === null) return true;
    if (session === undefined) return false;
    return this.#o.portal.isUnlocked(sha256(session), m.id, this.#now);
  }

  async open(
    portalId: string,
    address: string,
    options: { session?: string | undefined; view?: boolean } = {},
  ): Promise<OpenResult> {
    const m = await this.#owned(portalId, address);
    if (!m) return { kind: "not-found" };
    const meta = this.#meta(m);
    if (meta.status === "revoked") return { kind: "revoked", meta };
    if (meta.status === "expired") return { kind: "expired", meta };
    if (!(await this.#unlocked(m, options.session))) return { kind: "passphrase-required", meta };
    const raw = openBody(
      { wrappedKey: m.wrappedKey ?? "", body: m.body ?? Buffer.alloc(0) },
      m.id,
      this.#o.kek,
    );
    if (options.view !== false) {
      await this.#event(m.queueId, "portal:viewed", m.owner, { portalId: m.id });
      if (await this.#o.portal.markOpened(m.id, this.#now)) {
        await this.#event(m.queueId, "portal:opened", m.owner, { portalId: m.id });
      }
    }
    return { kind: "ok", raw, meta };
  }

  async unlock(
    portalId: string,
    address: string,
    session: string,
    passphrase: string,
  ): Promise<PassphraseCheck> {
    const m = await this.#owned(portalId, address);
    if (!m || this.#status(m) !== "active") return { kind: "not-found" };
    if (m.passphraseHash === null) return { kind: "ok" };
    const s = await this.#o.portal.getSession(sha256(session));
    if (!s || s.address !== m.owner || s.expiresAt <= this.#now) return { kind: "not-found" };
    const locked = (await this.#o.portal.getAccount(m.owner))?.locks.passphrase;
    if (this.#locked(locked)) return { kind: "locked", until: locked };
    if (!(await checkPassword(passphrase, m.passphraseHash))) {
      return this.#fail(m.owner, "passphrase", this.#c.maxPasswordAttempts, {
        queueId: m.queueId,
        portalId: m.id,
      });
    }
    await this.#o.portal.clearFailures(m.owner, "passphrase");
    await this.#o.portal.putUnlock(s.idHash, m.id, s.expiresAt);
    return { kind: "ok" };
  }

  async recordDownload(portalId: string, address: string, attachmentIndex: number): Promise<void> {
    const m = await this.#owned(portalId, address);
    if (!m) return;
    await this.#event(m.queueId, "portal:downloaded", m.owner, {
      portalId,
      attachment: attachmentIndex,
    });
  }

  async submitReply(request: ReplyRequest): Promise<ReplyResult> {
    const author = norm(request.address);
    const m = await this.#owned(request.portalId, author);
    if (!m || m.direction !== "received") return { kind: "not-found" };
    const status = this.#status(m);
    if (status !== "active") return { kind: status };
    if (!(await this.#unlocked(m, request.session))) return { kind: "passphrase-required" };
    const raw = openBody(
      { wrappedKey: m.wrappedKey ?? "", body: m.body ?? Buffer.alloc(0) },
      m.id,
      this.#o.kek,
    );
    const facts = await headerFacts(raw, m.counterpart);
    const to = [facts.fromAddress];
    const others = [...facts.to, ...facts.cc].filter((a) => a !== author && !to.includes(a));
    const cc = request.replyAll ? [...new Set(others)] : [];
    const reply = await buildReply({
      strings: this.#s,
      portalId: m.id,
      author,
      from: this.#from(),
      organisation: this.#o.config.organisation,
      to,
      cc,
      subject: facts.subject,
      original: facts,
      text: request.text,
      attachments: request.attachments,
    });
    // The reply goes through the queue like any message sealgate sends: it requires verified
    // TLS to its next hop (origin "portal"), and bounces go to the portal's own address.
    const queueId = await this.#o.queue.enqueue({
      ...generated([...to, ...cc], reply.raw, "portal"),
      envelope: { mailFrom: this.#from(), rcptTo: [...to, ...cc] },
      messageId: reply.messageId,
    });
    this.#o.onQueued?.();
    const sentId = newPortalId();
    const sealed = sealBody(reply.raw, sentId, this.#o.kek);
    await this.#o.portal.putMessage({
      id: sentId,
      queueId,
      owner: author,
      direction: "sent",
      counterpart: facts.fromAddress,
      counterpartName: facts.fromName,
      subject: m.subject === null ? null : reply.subject,
      tokenHash: null,
      createdAt: this.#now,
      expiresAt: m.expiresAt,
      wrappedKey: sealed.wrappedKey,
      body: sealed.body,
      passphraseHash: null,
      inReplyTo: m.id,
    });
    await this.#event(m.queueId, "portal:replied", m.owner, {
      portalId: m.id,
      replyQueueId: queueId,
      recipients: to.length + cc.length,
      attachments: request.attachments.length,
    });
    return { kind: "queued", queueId, portalId: sentId };
  }

  async revoke(portalId: string, by: string): Promise<RevokeResult> {
    const m = await this.#o.portal.getMessage(portalId);
    if (!m) return "not-found";
    if (!(await this.#o.portal.revoke(portalId, by, this.#now))) return "already-revoked";
    await this.#event(m.queueId, "portal:revoked", m.owner, { portalId, by });
    return "revoked";
  }

  async sweepExpired(now: Date = this.#now): Promise<number> {
    const gone = await this.#o.portal.deleteExpiredBodies(now);
    for (const g of gone)
      await this.#event(g.queueId, "portal:expired", undefined, { portalId: g.id });
    await this.#o.portal.deleteExpiredSessions(now);
    if (gone.length > 0) {
      this.#log.info(
        { event: "portal:expired", count: gone.length },
        "expired portal bodies deleted",
      );
    }
    return gone.length;
  }

  /** Admin listing for `sealgate portal list`: no bodies, no keys. */
  async list(limit = 100): Promise<PortalMeta[]> {
    const rows = await this.#o.portal.listMessages({ limit });
    return rows.map((m) => ({
      ...this.#meta(m, m.revokedAt ? "revoked" : m.expiresAt <= this.#now ? "expired" : "active"),
    }));
  }
}

function norm(address: string): string {
  return address.trim().toLowerCase();
}
