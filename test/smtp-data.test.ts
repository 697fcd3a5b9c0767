import t from "tap";
import { DataGuard } from "../gateway/smtp/data-guard.js";
import { readIngressHeaders } from "../gateway/smtp/headers.js";

const GOOD = Buffer.from("Subject: hi\r\nX-A: b\r\n\r\nline one\r\n\r\nline three\r\n");

/** Feeds the bytes split at `cut` (and once whole) and returns what the guard decided. */
function run(bytes: Buffer, cut: number, limits = { maxLineOctets: 998, maxBytes: 1 << 20 }) {
  const guard = new DataGuard(limits);
  guard.push(bytes.subarray(0, cut));
  guard.push(bytes.subarray(cut));
  const raw = guard.finish();
  return { raw, violation: guard.violation };
}

t.test("a clean message passes whole at every split point, byte for byte", async (t) => {
  for (let cut = 0; cut <= GOOD.length; cut++) {
    const { raw, violation } = run(GOOD, cut);
    if (violation !== null || !raw?.equals(GOOD)) {
      t.fail(`split at ${cut}: ${violation}`);
      return;
    }
  }
  t.pass("all split points");
});

t.test("a bare LF or bare CR anywhere is found at every split point", async (t) => {
  const text = GOOD.toString("latin1");
  let checked = 0;
  for (let at = 0; at <= text.length; at++) {
    for (const lone of ["\n", "\r"]) {
      const bad = Buffer.from(text.slice(0, at) + lone + "x" + text.slice(at), "latin1");
      for (let cut = 0; cut <= bad.length; cut++) {
        const { raw, violation } = run(bad, cut);
        checked++;
        if (violation !== "bareNewline" || raw !== null) {
          t.fail(`lone ${JSON.stringify(lone)} at ${at}, split at ${cut}: ${violation}`);
          return;
        }
      }
    }
  }
  t.ok(checked > 1000, `${checked} variants refused`);
});

t.test("a message ending in a lone CR is refused", async (t) => {
  t.equal(run(Buffer.from("Subject: hi\r\n\r\nbody\r"), 5).violation, "bareNewline");
});

t.test("line length counts across chunks and stops keeping bytes once over", async (t) => {
  const limits = { maxLineOctets: 10, maxBytes: 1000 };
  t.equal(run(Buffer.from("0123456789\r\n"), 4, limits).violation, null);
  t.equal(run(Buffer.from("0123456789A\r\n"), 4, limits).violation, "lineTooLong");
  t.equal(run(Buffer.from("0123456789\r\n0123456789A\r\n"), 15, limits).violation, "lineTooLong");
  const big = run(Buffer.from("x\r\n".repeat(400)), 600, limits);
  t.equal(big.violation, "messageTooBig");
  t.equal(big.raw, null);
});

t.test("headers are read from the header block only, unfolded", async (t) => {
  const raw = Buffer.from(
    [
      "Received: from a",
      "Received: from b",
      "Message-ID:",
      " <folded.id@clinic.example>",
      "X-MS-Exchange-CrossTenant-Id: 11111111-1111-4111-8111-111111111111",
      "x-sealgate-loop: v=1; t=1",
      "",
      "Received: from c (in the body, not a header)",
      "Message-ID: <body@example>",
      "",
    ].join("\r\n"),
  );
  const h = readIngressHeaders(raw, "X-Sealgate-Loop");
  t.equal(h.messageId, "folded.id@clinic.example");
  t.equal(h.receivedCount, 2);
  t.same(h.tenantIds, ["11111111-1111-4111-8111-111111111111"]);
  t.same(h.loopStamps, ["v=1; t=1"]);
});

t.test("a message without Message-ID has none", async (t) => {
  t.equal(readIngressHeaders(Buffer.from("Subject: x\r\n\r\nb\r\n"), "X").messageId, null);
  t.equal(readIngressHeaders(Buffer.from(""), "X").messageId, null);
});
