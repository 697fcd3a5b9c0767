/**
 * The code that runs inside a PDF worker thread, kept as plain JavaScript so the same string
 * runs under tsx in tests and from the compiled build. It loads pdf.js once, then answers one
 * job at a time: `{ id, data, maxChars }` → `{ id, pages }` or `{ id, error }` where error is
 * an unscannable reason. Text items are joined by position: a new baseline starts a line and
 * a horizontal gap wider than a fifth of the font size becomes a space, and one wider than one
 * and a half em (a table's column gap, never a word space) a tab, so neighbouring table cells
 * never merge into one number, not even one with spaces ("512 44 1234"). Filled form fields are read too.
 */
export const PDF_WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require("node:worker_threads");
let lib = null;

// pdf.js reports broken files on the console, and that text may quote the file: drop it.
for (const level of ["log", "info", "warn", "error", "debug"]) console[level] = () => {};

function render(items) {
  const out = [];
  let lastY = null;
  let lastEnd = null;
  let atLineStart = true;
  for (const it of items) {
    if (typeof it.str !== "string") continue;
    const t = it.transform;
    const size = Math.hypot(t[2], t[3]) || 1;
    const x = t[4];
    const y = t[5];
    if (lastY !== null && Math.abs(y - lastY) > size / 2) {
      if (!atLineStart) out.push("\n");
      atLineStart = true;
    } else if (lastEnd !== null && !atLineStart && x - lastEnd > size * 1.5) {
      out.push("\t");
    } else if (lastEnd !== null && !atLineStart && x - lastEnd > size / 5) {
      out.push(" ");
    }
    if (it.str.length > 0 && it.str.trim() === "" && it.width > size * 1.5) {
      // pdf.js fills a wide gap with one space item as wide as the gap: a column break.
      if (!atLineStart) out.push("\t");
    } else if (it.str.length > 0) {
      out.push(it.str);
      atLineStart = false;
    }
    if (it.hasEOL) {
      out.push("\n");
      atLineStart = true;
    }
    lastY = y;
    lastEnd = x + it.width;
  }
  return out.join("");
}

function fieldText(annotations) {
  const out = [];
  for (const a of annotations) {
    const v = a.fieldValue;
    if (typeof v === "string" && v.trim() !== "") out.push(v);
    else if (Array.isArray(v)) for (const s of v) if (typeof s === "string") out.push(s);
  }
  return out.join("\n");
}

async function extract(job) {
  lib = lib || (await import(workerData.pdfjsUrl));
  const task = lib.getDocument({
    data: job.data,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    disableAutoFetch: true,
    stopAtErrors: false,
    verbosity: 0,
  });
  const doc = await task.promise;
  try {
    const pages = [];
    let total = 0;
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const text = render((await page.getTextContent()).items);
      const fields = fieldText(await page.getAnnotations({ intent: "display" }));
      const pageText = fields ? text + "\n" + fields : text;
      total += pageText.length;
      if (total > job.maxChars) return { id: job.id, error: "over-budget" };
      pages.push(pageText);
      page.cleanup();
    }
    return { id: job.id, pages };
  } finally {
    await doc.destroy();
  }
}

parentPort.on("message", (job) => {
  extract(job).then(
    (answer) => parentPort.postMessage(answer),
    (err) => {
      const name = err && err.name;
      const error = name === "PasswordException" ? "encrypted" : "corrupt";
      parentPort.postMessage({ id: job.id, error });
    },
  );
});
`;
