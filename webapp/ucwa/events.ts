// One event-channel page → flat events with absolute hrefs (mirrors models.parse_page / Event).
import { absolute, isObject, link, type Json } from "./links";

export interface UcwaEvent {
  sender: string; // rel of the sender block: communication, conversation, me, people
  senderHref: string;
  type: string; // added/updated/deleted or started/updated/completed
  rel: string;
  href: string;
  title?: string;
  inRel?: string;
  inHref?: string;
  status?: string;
  reason?: Json;
  resource: Json; // the embedded resource, or {}
}

export function hrefOf(ev: UcwaEvent, rel: string): string | null {
  const h = link(ev.resource, rel);
  return h ? absolute(ev.href, h) : null;
}

export function parsePage(base: string, page: Json): UcwaEvent[] {
  const out: UcwaEvent[] = [];
  const senders = Array.isArray(page.sender) ? page.sender.filter(isObject) : [];
  for (const block of senders) {
    const senderHref = absolute(base, String(block.href ?? ""));
    const events = Array.isArray(block.events) ? block.events.filter(isObject) : [];
    for (const ev of events) {
      const lk = isObject(ev.link) ? ev.link : {};
      const inn = isObject(ev.in) ? ev.in : {};
      const rel = String(lk.rel ?? "");
      const emb = isObject(ev._embedded) ? ev._embedded[rel] : undefined;
      out.push({
        sender: String(block.rel ?? ""),
        senderHref,
        type: String(ev.type ?? ""),
        rel,
        href: absolute(base, String(lk.href ?? "")),
        title: typeof lk.title === "string" ? lk.title : undefined,
        inRel: typeof inn.rel === "string" ? inn.rel : undefined,
        inHref: typeof inn.href === "string" ? absolute(base, inn.href) : undefined,
        status: typeof ev.status === "string" ? ev.status : undefined,
        reason: isObject(ev.reason) ? ev.reason : undefined,
        resource: isObject(emb) ? emb : {},
      });
    }
  }
  return out;
}

export type ChannelAnswer =
  { kind: "events"; next: string; resume: boolean; events: UcwaEvent[] } | { kind: "resync"; next: string };

/** What a 200 answer of the event channel means: events and the next href, or a resync. */
export function readChannelPage(base: string, body: Json): ChannelAnswer {
  const links = isObject(body._links) ? body._links : {};
  const hrefIn = (rel: string): string | null => {
    const v = links[rel];
    return isObject(v) && typeof v.href === "string" ? absolute(base, v.href) : null;
  };
  const resync = hrefIn("resync");
  if (resync) return { kind: "resync", next: resync };
  const resume = hrefIn("resume");
  const next = hrefIn("next") ?? resume;
  if (!next) throw new Error("event channel response without a next link");
  return { kind: "events", next, resume: resume !== null, events: parsePage(base, body) };
}
