/**
 * Stable event names, in pipeline order. They appear in the store, in `sealgate trace`,
 * in logs (as `event`) and later in webhooks; README's "Events" table lists them. An event
 * "per recipient" names it by its 1-based position in the message's envelope (StoredEvent.rcpt),
 * never by address.
 */
export const EVENT_NAMES = [
  "smtp:received", // accepted and durably queued; data: size, recipients, connector
  "pipeline:parsed", // data: parts, attachments
  "pipeline:held", // could not be processed; kept, sender told; data: reason
  "pipeline:hold-expired", // a held message's bytes were cleared after holdRetention; data: age
  "pipeline:released", // an admin released a held message; data: by, as (encrypt|clean), reason
  "pipeline:dropped", // an admin deleted a held message, its bytes cleared; data: by, reason
  "pipeline:loop", // a stamped message came back; data: hops, route
  "policy:verdict", // data: sensitive, rules, findings (detector, count, confidence)
  "secure:route", // per recipient; data: route, reason, nextHop
  "deliver:sent", // per recipient; data: reply, nextHop, tls
  "deliver:deferred", // per recipient; data: reply, nextAttemptAt, attempts
  "deliver:bounced", // per recipient; data: reply
  "deliver:expired", // per recipient; data: age
  "deliver:dsn", // a DSN was queued for the sender; data: dsnQueueId
  "pipeline:notice", // policy asked to tell the sender; data: noticeQueueId
  "portal:stored", // per recipient: copy sealed in the portal; data: portalId, noticeQueueId
  "portal:viewed", // the recipient read it in the portal; data: portalId
  "portal:opened", // the first view; data: portalId
  "portal:downloaded", // an attachment was downloaded; data: portalId, attachment (index)
  "portal:replied", // the recipient replied in the portal; data: portalId, replyQueueId
  "portal:revoked", // an admin withdrew it; data: portalId, by
  "portal:expired", // its body and key were deleted at expiry; data: portalId
  "portal:sign-in-failed", // a wrong code, password or passphrase; data: kind, failures, locked
  "portal:password-set", // an address set or reset its password; data: purpose
] as const;

export type EventName = (typeof EVENT_NAMES)[number];
