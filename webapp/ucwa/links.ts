// Reading hypermedia: every URL the client uses comes from the root, a link, a Location header or
// an event (mirrors openucwa.client.models: link, absolute, with_query, message_text).

export type Json = Record<string, unknown>;
export interface LinkObject {
  href: string;
  title?: string;
}

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The href of `_links[rel]` (the first one if the rel is an array), or null. */
export function link(resource: unknown, rel: string): string | null {
  const l = linkObject(resource, rel);
  return l ? l.href : null;
}

export function linkObject(resource: unknown, rel: string): LinkObject | null {
  if (!isObject(resource)) return null;
  const links = resource._links;
  if (!isObject(links)) return null;
  let v = links[rel];
  if (Array.isArray(v)) v = v[0];
  if (isObject(v) && typeof v.href === "string" && v.href) {
    return { href: v.href, title: typeof v.title === "string" ? v.title : undefined };
  }
  return null;
}

export function links(resource: unknown, rel: string): LinkObject[] {
  if (!isObject(resource) || !isObject(resource._links)) return [];
  const v = resource._links[rel];
  const all = Array.isArray(v) ? v : v ? [v] : [];
  return all.filter(isObject).map((o) => ({
    href: String(o.href ?? ""),
    title: typeof o.title === "string" ? o.title : undefined,
  }));
}

export function embedded(resource: unknown, rel: string): unknown {
  if (!isObject(resource) || !isObject(resource._embedded)) return undefined;
  return resource._embedded[rel];
}

export function embeddedList(resource: unknown, rel: string): Json[] {
  const v = embedded(resource, rel);
  if (Array.isArray(v)) return v.filter(isObject);
  return isObject(v) ? [v] : [];
}

/** `href` resolved against the URL of the response it was read from. */
export function absolute(base: string, href: string): string {
  return new URL(href, base).toString();
}

/** `href` with query parameters added, keeping any the server put there. */
export function withQuery(href: string, params: Record<string, string>): string {
  const u = new URL(href);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** The text of a `data:` URI as UCWA puts them in plainMessage/htmlMessage/message links. */
export function decodeDataUri(uri: string): { type: string; text: string } {
  const comma = uri.indexOf(",");
  if (!uri.startsWith("data:") || comma < 0) return { type: "", text: "" };
  const meta = uri.slice(5, comma);
  const data = uri.slice(comma + 1);
  const type = meta.split(";")[0] || "text/plain";
  if (meta.split(";").includes("base64")) {
    const bin = atob(data);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return { type, text: new TextDecoder().decode(bytes) };
  }
  // The server encodes form-style ("+" for space), as Python's quote_plus does.
  return { type, text: decodeURIComponent(data.replace(/\+/g, " ")) };
}

export function encodeDataUri(text: string, type = "text/plain"): string {
  return `data:${type};charset=utf-8,${encodeURIComponent(text)}`;
}

/** `/Date(1796383029307)/` → epoch milliseconds, or null. */
export function parseDate(value: unknown): number | null {
  const m = /\/Date\((-?\d+)\)\//.exec(String(value ?? ""));
  return m ? Number(m[1]) : null;
}

export function sip(uri: string): string {
  const u = uri.trim();
  return u.toLowerCase().startsWith("sip:") ? u : `sip:${u}`;
}
