// A signed-in UCWA application and the requests that act on it (mirrors openucwa.client.flows.Core).
// Every URL comes from the root, a link, a Location header or an event, except the root itself.
import {
  AuthError,
  ApplicationGone,
  NetworkError,
  PGetReplaced,
  ProtocolError,
  UcwaClientError,
  responseError,
} from "./errors";
import { readChannelPage, type ChannelAnswer } from "./events";
import { Http, type Answer, type Fetch, type RequestOptions } from "./http";
import {
  absolute,
  embedded,
  embeddedList,
  encodeDataUri,
  isObject,
  link,
  links,
  sip,
  withQuery,
  type Json,
} from "./links";

export const PGET_TIMEOUT_MS = 240_000; // above the server's longest P-GET (180 s by default)

export function parseChallenge(header: string): string | null {
  const low = header.toLowerCase();
  const at = low.indexOf("msrtcoauth");
  if (at < 0) return null;
  for (const part of header.slice(at + "msrtcoauth".length).split(",")) {
    const [k, ...v] = part.trim().split("=");
    if (k.trim().toLowerCase() === "href") return v.join("=").trim().replace(/^"|"$/g, "") || null;
  }
  return null;
}

export interface Contact {
  name: string;
  uri: string;
  href: string; // absolute
  raw: Json;
}

export interface Group {
  id: string;
  name: string;
  kind: string; // pinnedGroup, defaultGroup, group
  contactsHref: string | null;
}

export function randomId(): string {
  const c = globalThis.crypto;
  if (c && "randomUUID" in c) return c.randomUUID();
  return Math.random().toString(16).slice(2) + Date.now().toString(16);
}

export class Session {
  readonly http: Http;
  userHref: string | null = null;
  tokenUrl: string | null = null;
  applicationsHref: string | null = null;
  app: Json = {};
  appUrl = "";
  nextHref: string | null = null;
  userAgent = "OpenUCWA Web";

  constructor(
    readonly rootUrl: string,
    fetchFn: Fetch,
    public endpointId: string = randomId(),
  ) {
    this.http = new Http(fetchFn);
  }

  get token(): string | null {
    return this.http.token;
  }
  set token(t: string | null) {
    this.http.token = t;
  }

  async call(method: string, url: string, opts: RequestOptions = {}): Promise<Answer> {
    const a = await this.http.request(method, url, opts);
    if (a.status === 401)
      throw new AuthError("the server refused the token (expired or revoked); sign in again", 401);
    return a;
  }

  expect(a: Answer, what: string, ...ok: number[]): unknown {
    if (!ok.includes(a.status)) throw responseError(a.status, a.body, what);
    return a.body;
  }

  // -- discovery and sign-in (SPEC §5) ----------------------------------------------------------

  async discover(): Promise<string> {
    const a = await this.http.request("GET", this.rootUrl, { auth: false, timeoutMs: 10_000 });
    const user = a.status === 200 ? link(a.body, "user") : null;
    if (!user) throw new NetworkError(`no UCWA server at ${this.rootUrl} (HTTP ${a.status})`);
    this.userHref = absolute(this.rootUrl, user);
    return this.userHref;
  }

  /** The token service the user resource names in its 401 challenge. */
  async challenge(): Promise<string> {
    if (!this.userHref) await this.discover();
    const userHref = this.userHref as string;
    const a = await this.http.request("GET", userHref, { auth: false });
    const tokenUrl = parseChallenge(a.headers.get("www-authenticate") ?? "");
    if (a.status !== 401 || !tokenUrl) {
      throw new ProtocolError(`expected a 401 MsRtcOAuth challenge from ${userHref}, got ${a.status}`);
    }
    this.tokenUrl = tokenUrl;
    return tokenUrl;
  }

  /** 401 challenge → token service → `cwt=…` token (grant_type=password). */
  async authenticate(username: string, password: string): Promise<string> {
    const tokenUrl = this.tokenUrl ?? (await this.challenge());
    const userHref = this.userHref as string;
    const form = { grant_type: "password", username: username.replace(/^sip:/i, ""), password };
    const t = await this.http.request("POST", absolute(userHref, tokenUrl), { auth: false, form });
    const body = t.body;
    if (t.status === 200 && isObject(body) && typeof body.access_token === "string") {
      this.token = body.access_token;
      return this.token;
    }
    const error = isObject(body) ? body.error : undefined;
    if (error === "invalid_grant") throw new AuthError("Wrong user name or password.", t.status);
    if (t.status >= 500) throw new NetworkError(`the token service failed (HTTP ${t.status})`, t.status);
    throw new AuthError(`The server refused the sign-in (${String(error ?? t.status)}).`, t.status);
  }

  /** Token → `user` resource → the `applications` href. */
  async signIn(): Promise<string> {
    if (!this.userHref) await this.discover();
    const a = await this.call("GET", this.userHref as string);
    const apps = link(this.expect(a, "user resource", 200), "applications");
    if (!apps) throw new ProtocolError("the user resource has no applications link");
    this.applicationsHref = absolute(a.url, apps);
    return this.applicationsHref;
  }

  async createApplication(): Promise<Json> {
    if (!this.applicationsHref) await this.signIn();
    const body = { UserAgent: this.userAgent, EndpointId: this.endpointId, Culture: navigatorCulture() };
    const a = await this.call("POST", this.applicationsHref as string, { json: body });
    const app = this.expect(a, "create application", 200, 201);
    this.setApp(a, app, true);
    return this.app;
  }

  private setApp(a: Answer, app: unknown, created: boolean): void {
    if (!isObject(app)) throw new ProtocolError("the application is not a JSON object");
    this.app = app;
    this.appUrl = absolute(a.url, link(app, "self") ?? a.url);
    const events = link(app, "events");
    if (!events) throw new ProtocolError("the application has no events link");
    if (this.nextHref === null || created) this.nextHref = absolute(this.appUrl, events);
  }

  async refreshApplication(): Promise<Json> {
    const a = await this.call("GET", this.appUrl);
    if (a.status === 404 || a.status === 410) throw new ApplicationGone("the application is gone", a.status);
    this.setApp(a, this.expect(a, "application", 200), false);
    return this.app;
  }

  async makeMeAvailable(): Promise<void> {
    const href = this.href(this.embedded("me"), "makeMeAvailable");
    if (href) {
      const body = { SupportedModalities: ["Messaging"], SupportedMessageFormats: ["Plain", "Html"] };
      const a = await this.call("POST", href, { json: body });
      if (a.status !== 409) this.expect(a, "makeMeAvailable", 200, 204);
      await this.refreshApplication();
    }
  }

  /** Sign out: DELETE the application, so others see this endpoint go at once. */
  async close(): Promise<void> {
    if (this.appUrl) {
      try {
        await this.call("DELETE", this.appUrl, { timeoutMs: 5000 });
      } catch {
        // Signing out goes on locally whatever the server says.
      }
    }
    this.app = {};
    this.appUrl = "";
    this.nextHref = null;
    this.token = null;
  }

  // -- links of the application -----------------------------------------------------------------

  embedded(rel: string): Json {
    const e = embedded(this.app, rel);
    return isObject(e) ? e : {};
  }

  href(resource: unknown, rel: string): string | null {
    const h = link(resource, rel);
    return h ? absolute(this.appUrl, h) : null;
  }

  // -- the event channel (SPEC §8) --------------------------------------------------------------

  /** One P-GET of `next`; errors say what the channel loop must do (retry, recreate, sign in). */
  async pget(signal?: AbortSignal): Promise<ChannelAnswer> {
    if (!this.nextHref) throw new ApplicationGone("no event channel yet");
    const a = await this.call("GET", this.nextHref, { signal, timeoutMs: PGET_TIMEOUT_MS });
    if (a.status === 200 && isObject(a.body)) {
      const ans = readChannelPage(a.url, a.body);
      this.nextHref = ans.next;
      return ans;
    }
    const subcode = isObject(a.body) ? a.body.subcode : undefined;
    if (a.status === 409 && subcode === "PGetReplaced")
      throw new PGetReplaced("another P-GET replaced this one", 409);
    if (a.status === 404 || a.status === 410) throw new ApplicationGone("the application is gone", a.status);
    throw responseError(a.status, a.body, "event channel");
  }

  // -- me (SPEC §11) ------------------------------------------------------------------------------

  meHref(rel: string): string | null {
    return this.href(this.embedded("me"), rel);
  }

  async getMe(rel: string): Promise<Json> {
    const href = this.meHref(rel);
    if (!href) return {};
    const a = await this.call("GET", href);
    return a.status === 200 && isObject(a.body) ? a.body : {};
  }

  /** Availability as PreferredAvailability, or "Offline" (the appear-offline extension). */
  async setPresence(availability: string): Promise<void> {
    const href = this.meHref("presence");
    if (!href) throw new UcwaClientError("this server does not offer presence");
    this.expect(await this.call("POST", href, { json: { availability } }), "set presence", 200, 204);
  }

  async setNote(message: string): Promise<void> {
    const href = this.meHref("note");
    if (!href) throw new UcwaClientError("this server does not offer a note");
    this.expect(await this.call("POST", href, { json: { message } }), "set note", 200, 204);
  }

  async reportMyActivity(): Promise<void> {
    const href = this.meHref("reportMyActivity");
    if (href) await this.call("POST", href);
  }

  // -- people (SPEC §12) ------------------------------------------------------------------------

  peopleHref(rel: string): string | null {
    return this.href(this.embedded("people"), rel);
  }

  contactsOf(a: Answer): Contact[] {
    const body = this.expect(a, "contacts", 200);
    return embeddedList(body, "contact").map((c) => ({
      name: String(c.name ?? c.uri ?? ""),
      uri: String(c.uri ?? ""),
      href: absolute(a.url, link(c, "self") ?? ""),
      raw: c,
    }));
  }

  async myGroups(): Promise<Group[]> {
    const href = this.peopleHref("myGroups");
    if (!href) return [];
    const a = await this.call("GET", href);
    const body = this.expect(a, "groups", 200);
    const out: Group[] = [];
    for (const kind of ["pinnedGroup", "defaultGroup", "group"]) {
      for (const g of embeddedList(body, kind)) {
        const gc = link(g, "groupContacts");
        out.push({
          id: String(g.id ?? ""),
          name: String(g.name ?? ""),
          kind,
          contactsHref: gc ? absolute(a.url, gc) : null,
        });
      }
    }
    return out;
  }

  async groupContacts(group: Group): Promise<Contact[]> {
    if (!group.contactsHref) return [];
    return this.contactsOf(await this.call("GET", group.contactsHref));
  }

  async search(query: string, signal?: AbortSignal, limit = 20): Promise<Contact[]> {
    const href = this.peopleHref("search");
    if (!href) throw new UcwaClientError("this server does not offer directory search");
    const a = await this.call("GET", withQuery(href, { query, limit: String(limit) }), { signal });
    return this.contactsOf(a);
  }

  async getContact(href: string): Promise<Json> {
    const a = await this.call("GET", href);
    return a.status === 200 && isObject(a.body) ? a.body : {};
  }

  async getJson(href: string): Promise<Json | null> {
    const a = await this.call("GET", href);
    return a.status === 200 && isObject(a.body) ? a.body : null;
  }

  /** A presence subscription over `uris` (10–30 minutes); its href. */
  async subscribePresence(uris: string[], duration = 30): Promise<string | null> {
    const href = this.peopleHref("presenceSubscriptions");
    if (!href || uris.length === 0) return null;
    const a = await this.call("POST", href, { json: { duration, uris: uris.map(sip) } });
    const body = this.expect(a, "presence subscription", 200, 201);
    return a.location ?? (link(body, "self") ? absolute(a.url, link(body, "self") as string) : null);
  }

  /** Extend a subscription; false when it is gone (then subscribe again). */
  async extendSubscription(href: string, duration = 10): Promise<boolean> {
    const a = await this.call("POST", withQuery(href, { duration: String(duration) }));
    return a.status === 200 || a.status === 201 || a.status === 204;
  }

  async addToSubscription(href: string, uris: string[]): Promise<boolean> {
    const a = await this.call("GET", href);
    const add = isObject(a.body) ? link(a.body, "addToPresenceSubscription") : null;
    if (!add) return false;
    const r = await this.call("POST", absolute(a.url, add), { json: { contactUris: uris.map(sip) } });
    return r.status === 200 || r.status === 201;
  }

  // -- IM (SPEC §13–§16) --------------------------------------------------------------------------

  /** startMessaging; the first message travels with the invitation. Returns the invitation href. */
  async startMessaging(to: string, operationId: string, firstMessage?: string): Promise<string> {
    const start = this.href(this.embedded("communication"), "startMessaging");
    if (!start) throw new UcwaClientError("this server does not offer startMessaging");
    const body: Json = { to: sip(to), operationId, importance: "Normal", sessionContext: randomId() };
    if (firstMessage) body.message = encodeDataUri(firstMessage);
    const a = await this.call("POST", start, { json: body });
    if (a.status === 400)
      throw new UcwaClientError(`${to} was not found`, 400, "BadRequest", "DestinationNotFound");
    this.expect(a, "startMessaging", 201);
    return a.location ?? "";
  }

  /** sendMessage (text/plain); the message href (its delivery arrives as an event). */
  async sendMessage(sendHref: string, text: string, operationId: string): Promise<string> {
    const a = await this.call("POST", withQuery(sendHref, { operationId }), { text });
    this.expect(a, "sendMessage", 201);
    return a.location ?? "";
  }

  async post(href: string, json?: unknown): Promise<Answer> {
    return this.call("POST", href, json === undefined ? {} : { json });
  }

  async addParticipant(href: string, to: string, operationId: string): Promise<string> {
    const a = await this.call("POST", href, { json: { to: sip(to), operationId } });
    this.expect(a, "addParticipant", 201);
    return a.location ?? "";
  }

  /** A page of the conversation's history (OpenUCWA extension rel `history`), newest first. */
  async history(href: string, limit = 50): Promise<{ messages: Json[]; next: string | null; url: string }> {
    const url = href.includes("limit=") ? href : withQuery(href, { limit: String(limit) });
    const a = await this.call("GET", url);
    const body = this.expect(a, "history", 200);
    const nxt = link(body, "next");
    return { messages: embeddedList(body, "message"), next: nxt ? absolute(a.url, nxt) : null, url: a.url };
  }

  /** Hrefs of this application's active conversations (after a reload, a resync or a resume). */
  async conversations(): Promise<string[]> {
    const href = this.href(this.embedded("communication"), "conversations");
    if (!href) return [];
    const a = await this.call("GET", href);
    if (a.status !== 200) return [];
    return links(a.body, "conversation").map((l) => absolute(a.url, l.href));
  }
}

function navigatorCulture(): string {
  const lang = (globalThis as { navigator?: { language?: string } }).navigator?.language;
  return lang || "en-US";
}
