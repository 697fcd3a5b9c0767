/**
 * The SMTP ingress: who may connect (connector IP ranges, client certificates, sender
 * domains, Microsoft 365 tenant), limits, SMTP extensions, and turning a session into an
 * envelope plus the raw message, answered 250 only once the store holds it.
 */
export { createIngress, type Ingress, type IngressOptions } from "./server.js";
export { ensureTlsMaterial, TlsMaterialError, type TlsMaterial } from "./tls.js";
export { ConnectorConfigError } from "./connectors.js";
export { REPLIES, SmtpReply, type ReplyName } from "./replies.js";
