import { parseXml } from "./xml.js";
import { ExtractError } from "./context.js";
import type { ZipArchive } from "./zip.js";

/**
 * DOCX (WordprocessingML) to text: the body, headers, footers, footnotes, endnotes and comments,
 * with deleted-but-tracked text kept since it travels with the file. Paragraphs and table rows
 * end lines, table cells end with a tab, so values in neighbouring cells never merge.
 */

const PART = /^word\/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml$/;

export function wordmlToText(xml: string): string {
  const out: string[] = [];
  let inText = 0;

  parseXml(xml, {
    onopentag(name) {
      if (name === "w:t" || name === "w:delText") inText++;
      else if (name === "w:tab") out.push("\t");
      else if (name === "w:br" || name === "w:cr") out.push("\n");
      else if (name === "w:noBreakHyphen") out.push("-");
    },
    ontext(text) {
      if (inText > 0) out.push(text);
    },
    onclosetag(name) {
      if (name === "w:t" || name === "w:delText") inText = Math.max(0, inText - 1);
      else if (name === "w:p" || name === "w:tr") out.push("\n");
      else if (name === "w:tc") out.push("\t");
    },
  });
  return out.join("");
}

/** The text of every readable part of a DOCX, document body first. */
export async function docxText(zip: ZipArchive): Promise<string> {
  if (!zip.has("word/document.xml")) throw new ExtractError("corrupt");
  const names = zip
    .list()
    .map((e) => e.name)
    .filter((n) => PART.test(n))
    .sort((a, b) => (a === "word/document.xml" ? -1 : b === "word/document.xml" ? 1 : 0));

  const texts: string[] = [];
  for (const name of names) {
    const xml = (await zip.read(name)).toString("utf8");
    if (name === "word/document.xml" && !/<w:document[\s>]/.test(xml.slice(0, 4096))) {
      throw new ExtractError("corrupt");
    }
    texts.push(wordmlToText(xml));
  }
  return texts.join("\n\n");
}
