import iconv from "iconv-lite";
import t from "tap";
import { extract } from "../policy/extract/index.js";
import { normalise } from "../policy/extract/normalise.js";
import { VALUE, entity, message, multipart } from "./fixtures/extract/build.js";

/** Bodies in the charsets real mailboxes send, each holding the value after a native word. */
// prettier-ignore
const CHARSETS: [string, Buffer, string][] = [
  // ISO-2022-JP has no encoder in iconv-lite; these bytes are "患者番号 345-67-8901".
  ["iso-2022-jp", Buffer.from("1b244234353c54485639661b2842203334352d36372d38393031", "hex"), "患者番号"],
  ["shift_jis", iconv.encode(`患者番号 ${VALUE}`, "shift_jis"), "患者番号"],
  ["gb18030", iconv.encode(`患者编号 ${VALUE}`, "gb18030"), "患者编号"],
  ["windows-1252", Buffer.from("4e756de9726f2096203334352d36372d38393031", "hex"), "Numéro –"],
  ["euc-kr", Buffer.from("c8afc0da203334352d36372d38393031", "hex"), "환자"],
  ["big5", Buffer.from("af66b177203334352d36372d38393031", "hex"), "病患"],
  ["iso-8859-2", iconv.encode(`Pacjent żółć ${VALUE}`, "iso-8859-2"), "żółć"],
  ["utf-16", iconv.encode(`Patiënt ${VALUE}`, "utf-16"), "Patiënt"],
];

for (const [charset, bytes, word] of CHARSETS) {
  t.test(`a ${charset} body is decoded`, async (t) => {
    const raw = message({
      body: { type: `text/plain; charset="${charset}"`, encoding: "base64", body: bytes },
    });
    const x = await extract(raw);
    const body = x.segments.find((s) => s.source === "body");
    t.match(body?.original ?? "", word, "decoded");
    t.match(body?.text ?? "", VALUE, "normalised");
  });
}

t.test(
  "an 8-bit body without a declared charset falls back from UTF-8 to windows-1252",
  async (t) => {
    const raw = message({
      body: {
        type: "text/plain",
        encoding: "8bit",
        body: Buffer.from("Caf\xe9 345-67-8901", "latin1"),
      },
    });
    const x = await extract(raw);
    t.equal(x.segments.find((s) => s.source === "body")?.text, `Café ${VALUE}`);
  },
);

t.test("encoded-word subjects are decoded, ISO-2022-JP included", async (t) => {
  const raw = message({
    subject: "=?ISO-2022-JP?B?GyRCPHU/RxsoQiAzNDUtNjctODkwMQ==?= =?UTF-8?Q?f=C3=BCr_Pat?=",
    body: { type: "text/plain", body: "." },
  });
  const x = await extract(raw);
  const subject = x.segments.find((s) => s.kind === "subject");
  t.equal(subject?.text, `受診 ${VALUE}für Pat`);
  t.equal(x.headers.find((h) => h.name === "Subject")?.value, subject?.original);
});

t.test("RFC 2231 and encoded-word file names are decoded", async (t) => {
  const raw = message({
    body: multipart("mixed", [
      entity({ type: "text/plain", body: "See attached." }),
      entity({
        type: "text/plain; charset=utf-8",
        disposition:
          "attachment; filename*0*=utf-8''%E6%82%A3%E8%80%85%20r%C3%A9; filename*1*=sum%C3%A9.txt",
        body: `SSN ${VALUE}`,
      }),
      entity({
        type: 'text/plain; charset=utf-8; name="=?UTF-8?B?w6l0YXQudHh0?="',
        disposition: 'attachment; filename="=?UTF-8?B?w6l0YXQudHh0?="',
        body: "nothing",
      }),
    ]),
  });
  const x = await extract(raw);
  t.same(
    x.attachments.map((a) => a.filename),
    ["患者 résumé.txt", "état.txt"],
  );
  t.ok(x.segments.some((s) => s.source === "attachment:患者 résumé.txt" && s.text.includes(VALUE)));
});

t.test("format=flowed soft breaks are undone", async (t) => {
  const raw = message({
    body: {
      type: "text/plain; charset=utf-8; format=flowed; delsp=yes",
      body: "Patient SSN 345-67- \r\n8901 is on file.\r\n",
    },
  });
  const x = await extract(raw);
  t.match(x.segments.find((s) => s.source === "body")?.text ?? "", VALUE);
});

t.test("HTML table cells and blocks become tabs and lines, never merged digits", async (t) => {
  const html =
    "<table><tr><td>123</td><td>456</td></tr><tr><td>789</td></tr></table>" +
    '<p>One</p><p>Two<br>Three</p><ul><li>a</li><li>b</li></ul><img alt="chart 42">';
  const raw = message({ body: { type: "text/html; charset=utf-8", body: html } });
  const x = await extract(raw);
  const text = x.segments.find((s) => s.source === "body.html")?.text ?? "";
  t.match(text, /123\t456\n789/);
  t.match(text, /One\nTwo\nThree\na\nb/);
  t.match(text, /chart 42/, "image alternative text is scanned");
});

t.test("HTML nested thousands deep is still rendered, in linear time", async (t) => {
  const n = 200_000;
  const html =
    "<div>".repeat(n) +
    "SSN <b>345</b>-67-&#56;901<script>x()</script><table><tr><td>1</td><td>2</td></tr></table>" +
    "</div>".repeat(n);
  const started = process.cpuUsage();
  const x = await extract(message({ body: { type: "text/html", body: html } }));
  const text = x.segments.find((s) => s.source === "body.html")?.text ?? "";
  t.match(text, `SSN ${VALUE}`);
  t.match(text, /1\t2/);
  t.notMatch(text, /x\(\)/);
  const cpu = process.cpuUsage(started);
  t.ok(cpu.user + cpu.system < 20e6, "far from the quadratic minutes");
});

t.test("normalisation applies NFKC and drops invisible characters, offsets map back", async (t) => {
  const original = "SSN:\u00a0３４５－６７－８９０１ and 345\u200b-67\u00ad-89\u206001 \ufb01le";
  const { text, offsets } = normalise(original);
  t.equal(text, "SSN: 345-67-8901 and 345-67-8901 file");
  t.ok(offsets, "offsets exist when text differs");
  t.equal(offsets?.length, text.length + 1);
  t.equal(offsets?.[text.length], original.length);

  const second = text.lastIndexOf(VALUE);
  const start = offsets![second]!;
  const end = offsets![second + VALUE.length]!;
  t.equal(original.slice(start, end), "345\u200b-67\u00ad-89\u206001", "a match maps to its span");

  const first = text.indexOf(VALUE);
  t.equal(
    original.slice(offsets![first]!, offsets![first + VALUE.length]!),
    "３４５－６７－８９０１",
  );
  t.equal(original.slice(offsets![text.length - 4]!, offsets![text.length]!), "\ufb01le");
});

t.test("dashes and digits of other scripts are read as ASCII", async (t) => {
  const { text, offsets } = normalise(
    "SSN \u0663\u0664\u0665\u2010\u0666\u0667\u2013\u0668\u0669\u0660\u0661",
  );
  t.equal(text, `SSN ${VALUE}`);
  t.equal(offsets?.length, text.length + 1, "one offset per character");
  t.equal(normalise("\u0967\u0968 \u2212 \uff13").text, "12 - 3", "Devanagari, minus, fullwidth");
});

t.test("a flood of combining marks is normalised in linear time", async (t) => {
  const original = `SSN ${VALUE} e` + "\u0301\u0316".repeat(200_000) + " cafe\u0301";
  const started = process.cpuUsage();
  const { text } = normalise(original);
  const cpu = process.cpuUsage(started);
  t.ok(text.startsWith(`SSN ${VALUE} e`));
  t.ok(text.endsWith(" café"), "ordinary clusters still compose");
  t.ok(cpu.user + cpu.system < 10e6, "no quadratic mark reordering");
});

t.test("normalisation collapses whitespace runs and keeps paragraph breaks", async (t) => {
  t.equal(normalise("  a \t  b\r\n\r\n\r\n c   \n d  ").text, " a\tb\n\nc\nd ");
  t.equal(normalise("a\r\nb\r\n\r\nc").offsets, undefined, "CRLF line ends stay as written");
  t.equal(normalise("plain text").offsets, undefined, "no offsets when nothing changed");
  t.equal(normalise("e\u0301").text, "\u00e9", "combining marks compose across an ASCII base");
});

t.test("offsets of a long text stay consistent", async (t) => {
  const line = "Patient 345\u200b-67-8901 ｆｏｒ   review\r\n";
  const original = line.repeat(20000);
  const { text, offsets } = normalise(original);
  t.ok(offsets);
  let ok = true;
  for (let i = 1; i < text.length; i++) if (offsets![i]! < offsets![i - 1]!) ok = false;
  t.ok(ok, "offsets never go backwards");
  t.equal(text.split(VALUE).length - 1, 20000);
});

t.test("display names and free-text headers are read; addresses are not", async (t) => {
  const raw = Buffer.from(
    [
      'From: "Jordan Example SSN 345-67-8901" <front.desk@clinic.example.org>',
      "To: Pat Q <pat@patient.example>, billing@payer.example",
      "Comments: follow-up for MRN 48213",
      "Subject: hello",
      "",
      "see attached",
      "",
    ].join("\r\n"),
  );
  const x = await extract(raw);
  const headers = x.segments.find((s) => s.source === "headers");
  t.ok(headers, "a segment of what a reader sees in the headers");
  t.match(headers?.text, /Jordan Example SSN 345-67-8901/);
  t.match(headers?.text, /Pat Q/);
  t.match(headers?.text, /follow-up for MRN 48213/);
  t.notMatch(headers?.text, /@/, "no address is scanned as text");
});
