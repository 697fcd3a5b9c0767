import { parseXml } from "./xml.js";
import type { ZipArchive } from "./zip.js";

/**
 * PPTX (PresentationML) to text: every slide in order, then the speaker notes. Text runs are
 * DrawingML `a:t`; paragraphs end lines and table cells end with a tab.
 */

const SLIDE = /^ppt\/(slides|notesSlides)\/(?:slide|notesSlide)(\d+)\.xml$/;

function drawingmlToText(xml: string): string {
  const out: string[] = [];
  let inText = 0;
  parseXml(xml, {
    onopentag(name) {
      if (name === "a:t") inText++;
      else if (name === "a:br") out.push("\n");
    },
    ontext(text) {
      if (inText > 0) out.push(text);
    },
    onclosetag(name) {
      if (name === "a:t") inText = Math.max(0, inText - 1);
      else if (name === "a:p" || name === "a:tr") out.push("\n");
      else if (name === "a:tc") out.push("\t");
    },
  });
  return out.join("");
}

export async function pptxText(zip: ZipArchive): Promise<string> {
  const parts = zip
    .list()
    .map((e) => ({ name: e.name, m: SLIDE.exec(e.name) }))
    .filter((p) => p.m !== null)
    .map((p) => ({ name: p.name, notes: p.m?.[1] === "notesSlides", n: Number(p.m?.[2]) }))
    .sort((a, b) => Number(a.notes) - Number(b.notes) || a.n - b.n);
  const texts: string[] = [];
  for (const p of parts) texts.push(drawingmlToText((await zip.read(p.name)).toString("utf8")));
  return texts.join("\n\n");
}
