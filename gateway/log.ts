import pino, { type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Keys that could carry PHI or personal data. They are removed at the logger so a careless
 * call site cannot leak them: log queue ids, counts and detector names instead.
 */
const REDACTED_KEYS = [
  "subject",
  "from",
  "to",
  "cc",
  "bcc",
  "recipient",
  "recipients",
  "sender",
  "address",
  "body",
  "text",
  "html",
  "raw",
  "match",
  "value",
  "*.subject",
  "*.from",
  "*.to",
  "*.recipient",
  "*.recipients",
  "*.sender",
  "*.address",
  "*.body",
  "*.text",
  "*.match",
  "*.value",
];

export interface LoggerOptions {
  level?: string;
  /** Write to this destination instead of stdout (tests). */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "sealgate" },
      redact: { paths: REDACTED_KEYS, remove: true },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/** A logger that drops everything; for tests and one-shot commands. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
