// Agent text is markdown; it is rendered to HTML by marked and then sanitised by DOMPurify with a
// short allow-list (no raw HTML survives, no styles — the CSP forbids inline styles anyway —,
// links only to http(s)/mailto and opened in a new tab without an opener).
import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: true, async: false });
// Raw HTML in the text is shown as text, never parsed.
marked.use({ renderer: { html: ({ text }) => escapeHtml(text) } });

const ALLOWED_TAGS = ["p", "br", "strong", "em", "del", "code", "pre", "ul", "ol", "li", "a", "blockquote", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "hr"];
const ALLOWED_ATTR = ["href", "title"];

let hooked = false;
function purifier() {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        const href = node.getAttribute("href") ?? "";
        if (!/^(https?:|mailto:)/i.test(href)) node.removeAttribute("href");
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]};`);
}

export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string;
  return purifier().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: [...ALLOWED_ATTR, "target", "rel"],
    ALLOW_DATA_ATTR: false,
  });
}

/** Plain text of markdown (for announcements): markup characters removed. */
export function plainText(text: string): string {
  return text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\*\*|\*|`/g, "")
    .replace(/^\s*(?:#{1,6}|>)\s+/gm, "");
}

/** Where the complete sentences of a growing text end: the live region announces up to here. */
export function sentencesEnd(text: string): number {
  let end = 0;
  const boundary = /[.!?](?=\s)/g;
  for (let m = boundary.exec(text); m; m = boundary.exec(text)) end = m.index + 1;
  return end;
}
