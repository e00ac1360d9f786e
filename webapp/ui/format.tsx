// Turning message text into elements: links made clickable in plain text, and incoming HTML passed
// through DOMPurify's allow-list (script, event handlers, javascript: URLs, styles never survive).
import DOMPurify from "dompurify";
import type { ComponentChildren } from "preact";

const URL_RE = /\b(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/gi;

export function linkify(text: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const at = m.index ?? 0;
    if (at > last) out.push(text.slice(last, at));
    out.push(
      <a href={m[0]} target="_blank" rel="noopener noreferrer">
        {m[0]}
      </a>,
    );
    last = at + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

const ALLOWED_TAGS = [
  "a",
  "b",
  "strong",
  "i",
  "em",
  "u",
  "s",
  "br",
  "p",
  "div",
  "span",
  "ul",
  "ol",
  "li",
  "code",
  "pre",
  "blockquote",
  "font",
  "sub",
  "sup",
];
const ALLOWED_ATTR = ["href", "title"];

let hooked = false;

export function sanitize(html: string): string {
  if (!hooked) {
    hooked = true;
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        const href = node.getAttribute("href") ?? "";
        if (!/^(https?:|mailto:)/i.test(href)) node.removeAttribute("href");
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
  }
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    FORBID_ATTR: ["style", "class", "id"],
    ADD_ATTR: ["target", "rel"],
  });
}

export function timeOf(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export const AVAILABILITY_LABEL: Record<string, string> = {
  Online: "Online",
  IdleOnline: "Online (idle)",
  Busy: "Busy",
  IdleBusy: "Busy (idle)",
  DoNotDisturb: "Do not disturb",
  BeRightBack: "Be right back",
  Away: "Away",
  Offwork: "Off work",
  Offline: "Offline",
};

export function presenceClass(a: string | undefined): string {
  switch (a) {
    case "Online":
    case "IdleOnline":
      return "online";
    case "Busy":
    case "IdleBusy":
      return "busy";
    case "DoNotDisturb":
      return "dnd";
    case "BeRightBack":
    case "Away":
    case "Offwork":
      return "away";
    default:
      return "offline";
  }
}
