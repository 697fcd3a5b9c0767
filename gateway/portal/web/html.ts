/**
 * Server-side HTML building: a tagged template that escapes every interpolated value unless it
 * is already Safe (built by this module), so message headers, names and addresses can never
 * become markup in the portal's own pages.
 */

export class Safe {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

type Part = Safe | string | number | null | undefined | false | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return "";
  if (part instanceof Safe) return part.value;
  if (Array.isArray(part)) return part.map((p: Part) => render(p)).join("");
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Safe {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) {
    out += render(values[i]) + (strings[i + 1] ?? "");
  }
  return new Safe(out);
}

/** A POST form with the CSRF token field; `body` holds the fields and the button. */
export function form(action: string, csrf: string, body: Safe, extra: Safe = html``): Safe {
  return html`<form method="post" action="${action}" ${extra}>
    <input type="hidden" name="_csrf" value="${csrf}" />
    ${body}
  </form>`;
}

export interface FieldOptions {
  name: string;
  label: string;
  type?: string;
  autocomplete?: string;
  hint?: string;
  value?: string;
  inputmode?: string;
  required?: boolean;
}

/** A labelled input; the hint is tied to it with aria-describedby for screen readers. */
export function field(o: FieldOptions): Safe {
  const id = `f-${o.name}`;
  const hintId = `${id}-hint`;
  return html`<div class="field">
    <label for="${id}">${o.label}</label>
    ${o.hint ? html`<p class="hint" id="${hintId}">${o.hint}</p>` : ""}
    <input
      id="${id}"
      name="${o.name}"
      type="${o.type ?? "text"}"
      ${o.autocomplete ? html`autocomplete="${o.autocomplete}"` : ""}
      ${o.inputmode ? html`inputmode="${o.inputmode}"` : ""}
      ${o.value !== undefined ? html`value="${o.value}"` : ""}
      ${o.hint ? html`aria-describedby="${hintId}"` : ""}
      ${o.required === false ? "" : html`required`}
    />
  </div>`;
}
