/** Why a lookup produced no answer; stable codes, no addresses in messages. */
export type LookupErrorCode =
  | "lookup-no-host" // the host name does not resolve (WKD: try the direct method)
  | "lookup-dns" // a temporary DNS failure (EAI_AGAIN): nothing is known about the name
  | "lookup-connect" // connection refused or reset
  | "lookup-tls" // the certificate did not verify for the host
  | "lookup-timeout" // no complete answer within the bound
  | "lookup-too-large" // the answer exceeded the size bound
  | "lookup-http" // an HTTP status other than 200 or 404
  | "lookup-bad-url"; // a configured base URL is not usable

export class LookupError extends Error {
  override readonly name = "LookupError";
  readonly code: LookupErrorCode;

  constructor(code: LookupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
