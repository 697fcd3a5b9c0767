import { Parser } from "htmlparser2";
import { ExtractError } from "./context.js";
import { nestingDepth } from "./html-flat.js";

/**
 * The XML parts of Office and OpenDocument files, read with htmlparser2 in XML mode. Real
 * documents nest a few dozen elements deep; one nested far deeper is hostile (the parser's
 * element stack costs quadratic time on it) and is refused as corrupt before parsing.
 */

const MAX_NESTING = 1000;

export type XmlHandlers = ConstructorParameters<typeof Parser>[0];

export function parseXml(xml: string, handlers: XmlHandlers): void {
  if (nestingDepth(xml, MAX_NESTING) > MAX_NESTING) throw new ExtractError("corrupt");
  const parser = new Parser(handlers, { xmlMode: true, decodeEntities: true });
  parser.write(xml);
  parser.end();
}
