// The one place requests are made: bearer token, JSON bodies, timeouts and cancellation.
import { AuthError, NetworkError } from "./errors";

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface Answer {
  status: number;
  url: string;
  headers: Headers;
  body: unknown; // parsed JSON, or null
  location: string | null; // absolute
}

export interface RequestOptions {
  json?: unknown;
  text?: string;
  contentType?: string;
  form?: Record<string, string>;
  auth?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export const REQUEST_TIMEOUT_MS = 30_000;

export class Http {
  token: string | null = null;
  constructor(private readonly fetchFn: Fetch) {}

  async request(method: string, url: string, opts: RequestOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { Accept: "application/json", ...(opts.headers ?? {}) };
    if (opts.auth !== false && this.token) headers.Authorization = `Bearer ${this.token}`;
    let body: BodyInit | undefined;
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.json);
    } else if (opts.text !== undefined) {
      headers["Content-Type"] = opts.contentType ?? "text/plain; charset=utf-8";
      body = opts.text;
    } else if (opts.form) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(opts.form).toString();
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), opts.timeoutMs ?? REQUEST_TIMEOUT_MS);
    const onAbort = (): void => ctl.abort();
    opts.signal?.addEventListener("abort", onAbort);
    let r: Response;
    try {
      r = await this.fetchFn(url, { method, headers, body, signal: ctl.signal, credentials: "omit" });
    } catch (e) {
      if (opts.signal?.aborted) throw new DOMException("aborted", "AbortError");
      throw new NetworkError(ctl.signal.aborted ? "the request timed out" : `network error: ${String(e)}`);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
    let parsed: unknown = null;
    const ct = r.headers.get("content-type") ?? "";
    if (ct.includes("json")) {
      try {
        parsed = await r.json();
      } catch {
        parsed = null;
      }
    }
    const loc = r.headers.get("location");
    return {
      status: r.status,
      url,
      headers: r.headers,
      body: parsed,
      location: loc ? new URL(loc, url).toString() : null,
    };
  }

  /** A binary resource (the photo): an `<img>` cannot send the bearer token, so it is fetched. */
  async blob(url: string): Promise<Blob | null> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const r = await this.fetchFn(url, { headers, credentials: "omit" });
    if (r.status === 401) throw new AuthError("photo: the server refused the token", 401);
    return r.ok ? await r.blob() : null;
  }
}
