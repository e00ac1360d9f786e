// The state of a signed-in tab and everything that changes it: sign-in, the event channel, presence,
// people and conversations. No DOM here: storage, fetch, clocks and timers are handed in, and the UI
// only renders `state` and calls the methods (mirrors openucwa.client.models.State for events).
import { EventChannel, realSleep, type Sleeper } from "./channel";
import { ApplicationGone, AuthError, PGetReplaced, UcwaClientError, reasonText } from "./errors";
import { hrefOf, type ChannelAnswer, type UcwaEvent } from "./events";
import type { Fetch } from "./http";
import {
  absolute,
  decodeDataUri,
  embedded,
  isObject,
  link,
  linkObject,
  parseDate,
  sip,
  type Json,
} from "./links";
import { Session, randomId, type Contact } from "./session";

export const AVAILABILITIES: { value: string; label: string }[] = [
  { value: "Online", label: "Online" },
  { value: "Busy", label: "Busy" },
  { value: "DoNotDisturb", label: "Do not disturb" },
  { value: "BeRightBack", label: "Be right back" },
  { value: "Away", label: "Away" },
  { value: "Offline", label: "Appear offline" },
];

export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Person {
  uri: string;
  name: string;
  href?: string;
  availability?: string;
  note?: string;
  raw?: Json;
  rev: number;
}

export type MessageStatus = "queued" | "sending" | "delivered" | "failed";

export interface ChatMessage {
  key: string;
  href?: string;
  direction: "in" | "out" | "notice";
  sender: string;
  text: string;
  html?: string;
  time: number;
  status?: MessageStatus;
  reason?: string;
  opId?: string;
}

export interface Invitation {
  href: string;
  from: string;
  fromUri?: string;
  preview?: string;
  accept?: string;
  decline?: string;
  answered: boolean;
}

export interface Conversation {
  id: string;
  href: string | null;
  title: string;
  remoteUri?: string;
  state: string;
  messaging: Record<string, string>;
  links: Record<string, string>;
  participants: Map<string, { name: string; uri?: string }>;
  typing: Map<string, number>; // name → until (ms)
  messages: ChatMessage[];
  unread: number;
  invitation?: Invitation;
  historyNext: string | null;
  historyState: "none" | "loading" | "more" | "done";
  ended: boolean;
  leaving: boolean;
  outgoingOp?: string;
  carried?: string; // key of the message carried with the invitation
  queue: string[]; // keys of messages waiting for sendMessage
  lastActivity: number;
  rev: number;
  autoTitle: boolean; // named after its participants (no subject)
  connectedAt: number; // when we joined
  settled: boolean; // a channel page has ended since we joined: who is added now is news
}

export interface Group {
  id: string;
  name: string;
  kind: string;
  members: string[];
}

export type Phase = "signed-out" | "signing-in" | "signed-in";

export interface Connection {
  ok: boolean;
  retryAt: number | null;
  error?: string;
}

export interface Notice {
  kind: "message" | "invitation";
  conversation: string;
  title: string;
  body: string;
}

export interface ClientOptions {
  rootUrl: string;
  fetch: Fetch;
  storage?: KeyValue;
  sleep?: Sleeper;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

const STORAGE_KEY = "openucwa.session";
const SUBSCRIPTION_RENEW_MS = 9 * 60_000;
const ACTIVITY_REPORT_MS = 3 * 60_000;
const TYPING_SEND_MS = 3000;
const TYPING_SHOW_MS = 6000;
const MAX_WATCHED = 500;

/** The uri a people-resource href names (`…/people/{user}[/presence|/note…]`). */
export function uriFromPeopleHref(href: string): string | null {
  const m = /\/people\/([^/?#]+@[^/?#]+)/.exec(href);
  return m ? sip(decodeURIComponent(m[1]).toLowerCase()) : null;
}

export class WebClient {
  phase: Phase = "signed-out";
  error: string | null = null;
  username = "";
  me = { name: "", uri: "", availability: "Online", note: "", photoHref: null as string | null };
  groups: Group[] = [];
  people = new Map<string, Person>();
  conversations = new Map<string, Conversation>();
  selected: string | null = null;
  visible = true;
  connection: Connection = { ok: true, retryAt: null };
  version = 0;
  onNotice: ((n: Notice) => void) | null = null;

  session: Session;
  private channel: EventChannel;
  private listeners = new Set<() => void>();
  private byHref = new Map<string, string>(); // conversation href → id
  private byOp = new Map<string, string>(); // operationId → conversation id
  private outcomes = new Map<string, { ok: boolean; reason?: string }>(); // early delivery results
  private subscriptionHref: string | null = null;
  private watched = new Set<string>();
  private timers: unknown[] = [];
  private lastActivity = 0;
  private lastReported = 0;
  private lastTyping = new Map<string, number>();
  private readonly storage: KeyValue | undefined;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;
  private notifyScheduled = false;

  constructor(private readonly opts: ClientOptions) {
    this.storage = opts.storage;
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setInterval(fn, ms));
    this.clearTimer = opts.clearTimer ?? ((t) => clearInterval(t as ReturnType<typeof setInterval>));
    this.session = new Session(opts.rootUrl, opts.fetch);
    this.channel = this.makeChannel(opts.sleep ?? realSleep);
  }

  // -- change notification ------------------------------------------------------------------------

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(): void {
    this.version += 1;
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      for (const fn of this.listeners) fn();
    });
  }

  private touch(c: Conversation): void {
    c.rev += 1;
    this.changed();
  }

  // -- sign-in and sign-out -----------------------------------------------------------------------

  /** A tab that was signed in before a reload carries on with its token and endpointId. */
  async restore(): Promise<boolean> {
    const saved = this.storage?.getItem(STORAGE_KEY);
    if (!saved) return false;
    let data: { token?: string; endpointId?: string; username?: string };
    try {
      data = JSON.parse(saved) as typeof data;
    } catch {
      return false;
    }
    if (!data.token || !data.endpointId) return false;
    this.session = new Session(this.opts.rootUrl, this.opts.fetch, data.endpointId);
    this.session.token = data.token;
    this.username = data.username ?? "";
    this.phase = "signing-in";
    this.changed();
    try {
      await this.start();
      return true;
    } catch (e) {
      this.fail(e instanceof AuthError ? "Your session has expired. Sign in again." : errorText(e));
      return false;
    }
  }

  async signIn(username: string, password: string): Promise<void> {
    if (this.phase === "signing-in") return;
    this.error = null;
    this.phase = "signing-in";
    this.username = username.trim();
    this.changed();
    const endpointId = this.storedEndpoint() ?? randomId();
    const { userHref, tokenUrl } = this.session;
    this.session = new Session(this.opts.rootUrl, this.opts.fetch, endpointId);
    Object.assign(this.session, { userHref, tokenUrl });
    try {
      await this.session.authenticate(this.username, password);
      await this.start();
    } catch (e) {
      this.fail(errorText(e));
    }
  }

  private storedEndpoint(): string | null {
    try {
      const saved = this.storage?.getItem(STORAGE_KEY);
      return saved ? ((JSON.parse(saved) as { endpointId?: string }).endpointId ?? null) : null;
    } catch {
      return null;
    }
  }

  private save(): void {
    const data = { token: this.session.token, endpointId: this.session.endpointId, username: this.username };
    this.storage?.setItem(STORAGE_KEY, JSON.stringify(data));
  }

  /** Discovery and the 401 challenge before the user presses Sign in: two round trips saved. */
  prepare(): void {
    if (this.phase !== "signed-out" || this.session.tokenUrl) return;
    void this.session.challenge().catch(() => undefined);
  }

  private async start(): Promise<void> {
    await this.session.createApplication();
    this.save();
    // The people links are there from creation: the contact list loads while we become available.
    const contacts = this.loadContacts().catch((e: unknown) => {
      if (e instanceof AuthError) throw e; // a contact list that fails to load is not a failed sign-in
    });
    await Promise.all([contacts, this.session.makeMeAvailable()]);
    const me = this.session.embedded("me");
    this.me.name = String(me.name ?? this.username);
    this.me.uri = String(me.uri ?? sip(this.username));
    this.me.photoHref = this.session.meHref("photo");
    this.phase = "signed-in";
    this.error = null;
    this.changed();
    void this.loadMyPresence().catch(() => undefined);
    void this.loadConversations();
    void this.channel.start();
    this.timers.push(this.setTimer(() => void this.renewSubscription(), SUBSCRIPTION_RENEW_MS));
    this.timers.push(this.setTimer(() => void this.tick(), 30_000));
    this.lastActivity = this.now();
  }

  private fail(message: string): void {
    this.stopEverything();
    this.phase = "signed-out";
    this.error = message;
    this.changed();
  }

  private stopEverything(): void {
    this.channel.stop();
    for (const t of this.timers) this.clearTimer(t);
    this.timers = [];
  }

  async signOut(): Promise<void> {
    this.stopEverything();
    await this.session.close();
    this.storage?.removeItem(STORAGE_KEY);
    this.reset();
    this.phase = "signed-out";
    this.error = null;
    this.changed();
  }

  private reset(): void {
    this.groups = [];
    this.people.clear();
    this.conversations.clear();
    this.byHref.clear();
    this.byOp.clear();
    this.outcomes.clear();
    this.selected = null;
    this.subscriptionHref = null;
    this.watched.clear();
    this.connection = { ok: true, retryAt: null };
  }

  // -- the event channel --------------------------------------------------------------------------

  private makeChannel(sleep: Sleeper): EventChannel {
    return new EventChannel(
      {
        pget: (signal) => this.session.pget(signal),
        probe: () => this.session.refreshApplication(),
        onAnswer: (a) => this.onAnswer(a),
        recover: (e) => this.recover(e),
        onAuthLost: () => this.authLost(),
        onConnection: (c) => {
          this.connection = c;
          this.changed();
        },
      },
      sleep,
      this.now,
    );
  }

  tryNow(): void {
    this.channel.tryNow();
  }

  /** The machine woke up or the network came back: re-ask the channel now. */
  wake(): void {
    this.channel.kick();
  }

  private async onAnswer(a: ChannelAnswer): Promise<void> {
    if (a.kind === "resync") {
      // Our transient state may be stale: refetch what the events would have told us.
      await this.session.refreshApplication();
      await this.loadConversations();
      return;
    }
    if (a.resume) {
      this.subscriptionHref = null;
      const uris = [...this.watched];
      this.watched.clear();
      for (const c of this.conversations.values()) this.endLocally(c, null);
      await this.session.makeMeAvailable();
      void this.watch(uris);
    }
    for (const ev of a.events) {
      try {
        await this.apply(ev);
      } catch (e) {
        if (e instanceof AuthError) throw e;
      }
    }
    for (const c of this.conversations.values()) if (c.connectedAt > 0) c.settled = true;
    this.changed();
  }

  private async recover(e: ApplicationGone | PGetReplaced): Promise<void> {
    if (e instanceof PGetReplaced) {
      // Another tab holds our endpointId (a duplicated tab copies sessionStorage): take a new one.
      this.session.endpointId = randomId();
    }
    this.session.nextHref = null;
    await this.session.createApplication();
    await this.session.makeMeAvailable();
    this.save();
    for (const c of this.conversations.values()) this.endLocally(c, null);
    this.subscriptionHref = null;
    const uris = [...this.watched];
    this.watched.clear();
    await this.watch(uris);
    this.changed();
  }

  /** Everything one event means for this tab (the order of events within a page matters). */
  async apply(ev: UcwaEvent): Promise<void> {
    const res = ev.resource;
    switch (ev.rel) {
      case "messagingInvitation":
        return this.onMessagingInvitation(ev);
      case "conversation":
        return this.onConversation(ev);
      case "messaging":
        if (ev.sender === "conversation") this.onMessaging(ev);
        return;
      case "participant":
      case "localParticipant":
        return this.onParticipant(ev);
      case "message":
        if (ev.type === "completed") this.onMessage(ev);
        return;
      case "participantInvitation":
        if (ev.type === "completed" && ev.status !== "Success") {
          const conv = this.convByHref(hrefOf(ev, "conversation"));
          const to = String(res.to ?? "").replace(/^sip:/, "");
          if (conv) this.notice(conv, `Could not add ${to}: ${reasonText(ev.reason)}`);
        }
        return;
      case "contactPresence":
      case "contactNote":
        if (ev.type === "updated") await this.refreshPerson(ev);
        return;
      case "presence":
      case "note":
        if (ev.sender === "me" && ev.type !== "deleted") await this.loadMyPresence();
        return;
      case "presenceSubscription":
        if (ev.type === "updated") await this.renewSubscription();
        if (ev.type === "deleted" && ev.href === this.subscriptionHref) {
          this.subscriptionHref = null;
          const uris = [...this.watched];
          this.watched.clear();
          await this.watch(uris);
        }
        return;
      default:
        return;
    }
  }

  private convByHref(href: string | null | undefined): Conversation | null {
    const id = href ? this.byHref.get(href) : undefined;
    return id ? (this.conversations.get(id) ?? null) : null;
  }

  private newConversation(title: string, remoteUri?: string): Conversation {
    const c: Conversation = {
      id: randomId(),
      href: null,
      title,
      remoteUri,
      state: "Disconnected",
      messaging: {},
      links: {},
      participants: new Map(),
      typing: new Map(),
      messages: [],
      unread: 0,
      historyNext: null,
      historyState: "none",
      ended: false,
      leaving: false,
      queue: [],
      lastActivity: this.now(),
      rev: 0,
      autoTitle: true,
      connectedAt: 0,
      settled: false,
    };
    this.conversations.set(c.id, c);
    return c;
  }

  private bind(c: Conversation, href: string): void {
    if (c.href && c.href !== href) this.byHref.delete(c.href);
    c.href = href;
    c.ended = false;
    c.leaving = false;
    c.connectedAt = 0;
    c.settled = false;
    this.byHref.set(href, c.id);
  }

  private onMessagingInvitation(ev: UcwaEvent): void {
    const res = ev.resource;
    const convHref = hrefOf(ev, "conversation");
    if (res.direction === "Incoming") {
      if (!convHref) return;
      let c = this.convByHref(convHref);
      const from = embedded(res, "from");
      const fromName =
        (isObject(from) && String(from.name ?? "")) || linkObject(res, "from")?.title || "Someone";
      const fromUri = isObject(from) && typeof from.uri === "string" ? from.uri : undefined;
      if (!c) {
        c = this.newConversation(fromName, fromUri);
        this.bind(c, convHref);
      }
      if (ev.type === "started" && c.invitation?.href !== ev.href) {
        // (A "started" seen again, after a retried P-GET, must not ask a second time.)
        const first = link(res, "message");
        c.state = "Incoming";
        c.invitation = {
          href: ev.href,
          from: fromName,
          fromUri,
          preview: first ? decodeDataUri(first).text : undefined,
          accept: hrefOf(ev, "accept") ?? undefined,
          decline: hrefOf(ev, "decline") ?? undefined,
          answered: false,
        };
        if (String(res.subject ?? "")) {
          c.title = String(res.subject);
          c.autoTitle = false;
        }
        c.lastActivity = this.now();
        if (fromUri) void this.watch([fromUri]);
        this.onNotice?.({
          kind: "invitation",
          conversation: c.id,
          title: `${fromName} wants to chat`,
          body: c.invitation.preview ?? "",
        });
      } else if (ev.type === "completed" && c.invitation) {
        c.invitation = { ...c.invitation, answered: true };
        if (ev.status !== "Success")
          this.notice(c, `Invitation from ${fromName} ended: ${reasonText(ev.reason)}`);
      }
      this.touch(c);
      return;
    }
    // Outgoing: ours, found by the operationId we chose.
    const op = String(res.operationId ?? "");
    const id = this.byOp.get(op);
    const c = id ? this.conversations.get(id) : undefined;
    if (!c) return;
    if (convHref && c.href !== convHref) this.bind(c, convHref);
    if (ev.type === "completed") {
      this.byOp.delete(op);
      if (ev.status === "Success") {
        const accepted = embedded(res, "acceptedByParticipant");
        const first = Array.isArray(accepted) && isObject(accepted[0]) ? accepted[0] : null;
        if (first && typeof first.name === "string" && !c.title) c.title = first.name;
        if (c.carried) this.setStatus(c, c.carried, "delivered");
      } else {
        const why = reasonText(ev.reason);
        if (c.carried) this.setStatus(c, c.carried, "failed", why);
        for (const k of c.queue) this.setStatus(c, k, "failed", why);
        c.queue = [];
        this.endLocally(c, `${c.title} could not be reached: ${why}`);
      }
      c.carried = undefined;
    }
    this.touch(c);
  }

  private onConversation(ev: UcwaEvent): void {
    let c = this.convByHref(ev.href);
    if (ev.type === "deleted") {
      if (c) this.endLocally(c, c.leaving ? null : "The conversation ended.");
      return;
    }
    if (!c) {
      if (ev.type !== "added") return;
      c = this.newConversation("Conversation");
      this.bind(c, ev.href);
    }
    this.updateConversation(c, ev.href, ev.resource);
  }

  private updateConversation(c: Conversation, base: string, res: Json): void {
    const live = (st: string): boolean => st === "Connected" || st === "Conferenced";
    if (typeof res.state === "string") {
      // Once: a 1:1 that becomes a conference (Connected → Conferencing → Conferenced) is not new.
      if (live(res.state) && c.connectedAt === 0) c.connectedAt = this.now();
      c.state = res.state;
    }
    for (const rel of ["self", "history", "addParticipant", "participants", "messaging"]) {
      const h = link(res, rel);
      if (h) c.links[rel] = absolute(base, h);
    }
    if (c.links.history && c.historyState === "none") c.historyNext = c.links.history;
    this.touch(c);
  }

  private onMessaging(ev: UcwaEvent): void {
    const c = this.convByHref(ev.senderHref);
    if (!c) return;
    const res = ev.resource;
    const m: Record<string, string> = {};
    for (const rel of ["sendMessage", "setIsTyping", "stopMessaging", "typingParticipants"]) {
      const h = link(res, rel);
      if (h) m[rel] = absolute(ev.href, h);
    }
    c.messaging = m;
    if (m.sendMessage && c.queue.length) void this.flush(c);
    this.touch(c);
  }

  private onParticipant(ev: UcwaEvent): void {
    const c = this.convByHref(ev.senderHref);
    if (!c) return;
    const name = ev.title ?? "Someone";
    if (ev.inRel === "typingParticipants") {
      if (ev.type === "added") c.typing.set(name, this.now() + TYPING_SHOW_MS);
      else if (ev.type === "deleted") c.typing.delete(name);
      this.touch(c);
      return;
    }
    if (ev.rel === "localParticipant" || ev.inRel) return;
    const uri = uriFromPeopleHref(ev.href.replace(/\/participants\//, "/people/")) ?? undefined;
    if (ev.type === "added") {
      const others = c.participants.size;
      c.participants.set(ev.href, { name, uri });
      if (!c.remoteUri && others === 0) c.remoteUri = uri;
      // The roster that comes with our own joining (same page) is not news; later additions are.
      const joinedLater = others > 0 && c.settled;
      if (joinedLater) this.notice(c, `${name} joined the conversation.`);
      if (uri) void this.watch([uri]);
    } else if (ev.type === "deleted") {
      c.participants.delete(ev.href);
      if (!c.leaving && !c.ended) this.notice(c, `${name} left the conversation.`);
    }
    this.retitle(c);
    this.touch(c);
  }

  private onMessage(ev: UcwaEvent): void {
    const c = this.convByHref(ev.senderHref);
    const res = ev.resource;
    if (res.direction === "Outgoing" || !res.direction) {
      const ok = ev.status === "Success";
      const reason = ok ? undefined : reasonText(ev.reason);
      const op = typeof res.operationId === "string" ? res.operationId : undefined;
      const msg = c?.messages.find((m) => (m.href && m.href === ev.href) || (op && m.opId === op));
      if (c && msg) this.setStatus(c, msg.key, ok ? "delivered" : "failed", reason);
      else {
        this.outcomes.set(ev.href, { ok, reason });
        if (op) this.outcomes.set(op, { ok, reason });
      }
      return;
    }
    if (!c || ev.status !== "Success") return;
    const msg = messageFrom(res, ev.href, this.me.name);
    if (c.messages.some((m) => m.href === msg.href)) return;
    c.messages = [...c.messages, msg];
    c.typing.delete(msg.sender);
    c.lastActivity = this.now();
    if (!(this.selected === c.id && this.visible)) c.unread += 1;
    this.touch(c);
    this.onNotice?.({ kind: "message", conversation: c.id, title: msg.sender, body: msg.text });
  }

  private retitle(c: Conversation): void {
    const names = [...c.participants.values()].map((p) => p.name).filter(Boolean);
    if (c.autoTitle && names.length) c.title = names.join(", ");
  }

  /** A request was refused for the token: back to sign-in, saying why. */
  private authLost(): void {
    this.storage?.removeItem(STORAGE_KEY);
    this.reset();
    this.fail("Your session has expired. Sign in again.");
  }

  private notice(c: Conversation, text: string): void {
    const key = `notice-${randomId()}`;
    c.messages = [...c.messages, { key, direction: "notice", sender: "", text, time: this.now() }];
    this.touch(c);
  }

  private endLocally(c: Conversation, notice: string | null): void {
    if (c.href) this.byHref.delete(c.href);
    const wasLive = !c.ended;
    c.href = null;
    c.ended = true;
    c.state = "Disconnected";
    c.messaging = {};
    c.typing.clear();
    if (c.invitation && !c.invitation.answered) c.invitation = { ...c.invitation, answered: true };
    if (notice && wasLive) this.notice(c, notice);
    this.touch(c);
  }

  private setStatus(c: Conversation, key: string, status: MessageStatus, reason?: string): void {
    c.messages = c.messages.map((m) => (m.key === key ? { ...m, status, reason } : m));
    this.touch(c);
  }

  // -- conversations: the user's actions ----------------------------------------------------------

  /** Open (or create) the 1:1 conversation with a person; nothing is sent until the first message. */
  openChat(uri: string, name?: string): string {
    const target = sip(uri).toLowerCase();
    for (const c of this.conversations.values()) {
      if (c.remoteUri?.toLowerCase() === target && c.participants.size <= 1 && !c.leaving) {
        this.select(c.id);
        return c.id;
      }
    }
    const person = this.people.get(target);
    const c = this.newConversation(name ?? person?.name ?? target.replace(/^sip:/, ""), target);
    void this.watch([target]);
    this.select(c.id);
    return c.id;
  }

  select(id: string | null): void {
    this.selected = id;
    const c = id ? this.conversations.get(id) : undefined;
    if (c) {
      c.unread = 0;
      if (c.historyState === "none" && c.historyNext) void this.loadOlder(c.id);
      this.touch(c);
    } else this.changed();
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    const c = this.selected ? this.conversations.get(this.selected) : undefined;
    if (visible && c && c.unread) {
      c.unread = 0;
      this.touch(c);
    }
  }

  get unreadTotal(): number {
    let n = 0;
    for (const c of this.conversations.values()) n += c.unread;
    return n;
  }

  sortedConversations(): Conversation[] {
    return [...this.conversations.values()].sort((a, b) => b.lastActivity - a.lastActivity);
  }

  async send(id: string, text: string): Promise<void> {
    const c = this.conversations.get(id);
    if (!c || !text.trim()) return;
    const op = randomId();
    const msg: ChatMessage = {
      key: `out-${op}`,
      direction: "out",
      sender: this.me.name,
      text,
      time: this.now(),
      status: "sending",
      opId: op,
    };
    c.messages = [...c.messages, msg];
    c.lastActivity = this.now();
    this.touch(c);
    if (c.messaging.sendMessage) return this.post(c, msg.key);
    if ((c.href && !c.ended) || c.state === "Connecting") {
      // Invited but not accepted yet (or the invitation is on its way): sent after Accept.
      c.queue.push(msg.key);
      this.setStatus(c, msg.key, "queued");
      return;
    }
    if (!c.remoteUri) {
      this.setStatus(c, msg.key, "failed", "The conversation has ended.");
      return;
    }
    // No live conversation: invite, carrying this first message with the invitation.
    c.outgoingOp = op;
    c.carried = msg.key;
    c.ended = false;
    c.state = "Connecting";
    this.byOp.set(op, c.id);
    try {
      await this.session.startMessaging(c.remoteUri, op, text);
    } catch (e) {
      if (e instanceof AuthError) return this.authLost();
      this.byOp.delete(op);
      c.carried = undefined;
      this.setStatus(c, msg.key, "failed", errorText(e));
      c.state = "Disconnected";
      c.ended = true;
      this.touch(c);
    }
  }

  private async flush(c: Conversation): Promise<void> {
    const keys = c.queue;
    c.queue = [];
    for (const k of keys) {
      this.setStatus(c, k, "sending");
      await this.post(c, k);
    }
  }

  private async post(c: Conversation, key: string): Promise<void> {
    const msg = c.messages.find((m) => m.key === key);
    const href = c.messaging.sendMessage;
    if (!msg || !href) return;
    try {
      const loc = await this.session.sendMessage(href, msg.text, msg.opId ?? randomId());
      c.messages = c.messages.map((m) => (m.key === key ? { ...m, href: loc } : m));
      const early = this.outcomes.get(loc) ?? (msg.opId ? this.outcomes.get(msg.opId) : undefined);
      if (early) {
        this.outcomes.delete(loc);
        if (msg.opId) this.outcomes.delete(msg.opId);
        this.setStatus(c, key, early.ok ? "delivered" : "failed", early.reason);
      }
      this.touch(c);
    } catch (e) {
      if (e instanceof AuthError) return this.authLost();
      this.setStatus(c, key, "failed", errorText(e));
    }
  }

  async answer(id: string, accept: boolean): Promise<void> {
    const c = this.conversations.get(id);
    const inv = c?.invitation;
    if (!c || !inv || inv.answered) return;
    c.invitation = { ...inv, answered: true };
    this.touch(c);
    const href = accept ? inv.accept : inv.decline;
    if (!href) return;
    try {
      const a = await this.session.post(href, accept ? undefined : { reason: "Local" });
      if (!accept || a.status >= 300)
        this.endLocally(c, accept ? "The invitation is no longer pending." : null);
      if (!accept) this.remove(c.id);
      if (accept) this.select(c.id);
    } catch (e) {
      if (e instanceof AuthError) return this.authLost();
      this.notice(c, errorText(e));
    }
  }

  typing(id: string): void {
    const c = this.conversations.get(id);
    const href = c?.messaging.setIsTyping;
    if (!c || !href) return;
    const last = this.lastTyping.get(id) ?? 0;
    if (this.now() - last < TYPING_SEND_MS) return;
    this.lastTyping.set(id, this.now());
    void this.session.post(href).catch(() => undefined);
  }

  async addParticipant(id: string, uri: string): Promise<void> {
    const c = this.conversations.get(id);
    const href = c?.links.addParticipant;
    if (!c) return;
    if (!href || c.ended) {
      this.notice(c, "People can be added once the conversation is connected.");
      return;
    }
    try {
      await this.session.addParticipant(href, uri, randomId());
      this.notice(
        c,
        `Inviting ${this.people.get(sip(uri).toLowerCase())?.name ?? uri.replace(/^sip:/, "")}…`,
      );
    } catch (e) {
      if (e instanceof AuthError) return this.authLost();
      this.notice(c, errorText(e));
    }
  }

  /** Leave = stopMessaging; the conversation leaves the sidebar. */
  async leave(id: string): Promise<void> {
    const c = this.conversations.get(id);
    if (!c) return;
    c.leaving = true;
    const stop = c.messaging.stopMessaging;
    this.remove(id);
    if (stop) await this.session.post(stop).catch(() => undefined);
  }

  private remove(id: string): void {
    const c = this.conversations.get(id);
    if (c?.href) this.byHref.delete(c.href);
    this.conversations.delete(id);
    if (this.selected === id) this.selected = null;
    this.changed();
  }

  /** One older page of history (extension rel `history`), prepended without duplicates. */
  async loadOlder(id: string): Promise<void> {
    const c = this.conversations.get(id);
    if (!c || !c.historyNext || c.historyState === "loading" || c.historyState === "done") return;
    c.historyState = "loading";
    this.touch(c);
    try {
      const page = await this.session.history(c.historyNext);
      c.messages = [...this.unseen(c, page), ...c.messages];
      c.historyNext = page.next;
      c.historyState = page.next ? "more" : "done";
    } catch (e) {
      c.historyState = "more";
      if (e instanceof AuthError) this.authLost();
    }
    this.touch(c);
  }

  /** The messages of a history page this conversation does not show yet, oldest first. A message
   * we sent before its href was known (the one carried with the invitation) is matched by text. */
  private unseen(c: Conversation, page: { messages: Json[]; url: string }): ChatMessage[] {
    const known = new Set(c.messages.map((m) => m.href).filter(Boolean));
    const out: ChatMessage[] = [];
    for (const raw of page.messages) {
      const m = messageFrom(raw, absolute(page.url, link(raw, "self") ?? ""), this.me.name);
      if (known.has(m.href)) continue;
      if (m.direction === "out") {
        const local = c.messages.find((x) => x.direction === "out" && !x.href && x.text === m.text);
        if (local) {
          c.messages = c.messages.map((x) => (x === local ? { ...x, href: m.href } : x));
          continue;
        }
      }
      out.push(m);
    }
    return out.reverse();
  }

  /** Conversations the server still holds for this application (reload, resync, resume). */
  private async loadConversations(): Promise<void> {
    // Only what was known before asking can be judged gone: events may bind new ones meanwhile.
    const before = new Set([...this.conversations.values()].map((c) => c.href).filter(Boolean));
    let hrefs: string[];
    try {
      hrefs = await this.session.conversations();
    } catch {
      return;
    }
    const live = new Set(hrefs);
    for (const c of this.conversations.values()) {
      if (c.href && before.has(c.href) && !live.has(c.href)) this.endLocally(c, null);
    }
    for (const href of hrefs) {
      const body = await this.session.getJson(href).catch(() => null);
      if (!body) continue;
      let c = this.convByHref(href);
      if (!c) {
        c = this.newConversation("Conversation");
        this.bind(c, href);
      }
      this.updateConversation(c, href, body);
      if (c.links.participants) {
        const parts = await this.session.getJson(c.links.participants).catch(() => null);
        for (const p of parts ? linksOf(parts, "participant") : []) {
          const ph = absolute(c.links.participants, p.href);
          const uri = uriFromPeopleHref(ph.replace(/\/participants\//, "/people/")) ?? undefined;
          c.participants.set(ph, { name: p.title ?? uri ?? "", uri });
        }
        const all = [...c.participants.values()];
        if (all.length === 1 && !c.remoteUri) c.remoteUri = all[0].uri;
        this.retitle(c);
        void this.watch(all.map((p) => p.uri ?? "").filter(Boolean));
      }
      if (c.links.messaging) {
        const m = await this.session.getJson(c.links.messaging).catch(() => null);
        if (m)
          this.onMessaging({
            sender: "conversation",
            senderHref: href,
            type: "updated",
            rel: "messaging",
            href: c.links.messaging,
            resource: m,
          });
      }
      // Messages missed meanwhile come from history, without duplicates.
      if (c.links.history && c.historyState !== "none") {
        const page = await this.session.history(c.links.history).catch(() => null);
        if (page) {
          const missed = this.unseen(c, page);
          if (missed.length) c.messages = [...c.messages, ...missed];
        }
      }
      this.touch(c);
    }
  }

  // -- me -----------------------------------------------------------------------------------------

  private async loadMyPresence(): Promise<void> {
    const [p, n] = await Promise.all([this.session.getMe("presence"), this.session.getMe("note")]);
    if (typeof p.availability === "string") this.me.availability = p.availability;
    this.me.note = typeof n.message === "string" ? n.message : "";
    this.changed();
  }

  async setAvailability(value: string): Promise<void> {
    this.me.availability = value;
    this.changed();
    try {
      await this.session.setPresence(value);
      await this.loadMyPresence();
    } catch (e) {
      if (e instanceof AuthError) this.authLost();
    }
  }

  async setNote(text: string): Promise<void> {
    this.me.note = text;
    this.changed();
    try {
      await this.session.setNote(text);
    } catch (e) {
      if (e instanceof AuthError) this.authLost();
    }
  }

  /** The user did something: reported to the server at most every 3 minutes (SfB idles to Away). */
  activity(): void {
    this.lastActivity = this.now();
    if (this.now() - this.lastReported > ACTIVITY_REPORT_MS) void this.reportActivity();
  }

  private async reportActivity(): Promise<void> {
    if (this.phase !== "signed-in") return;
    this.lastReported = this.now();
    await this.session.reportMyActivity().catch(() => undefined);
  }

  private async tick(): Promise<void> {
    // Expire typing indicators whose "stopped" event was lost.
    const now = this.now();
    for (const c of this.conversations.values()) {
      let changed = false;
      for (const [name, until] of c.typing) if (until < now) (c.typing.delete(name), (changed = true));
      if (changed) this.touch(c);
    }
    if (this.lastActivity > this.lastReported && now - this.lastReported > ACTIVITY_REPORT_MS)
      await this.reportActivity();
  }

  // -- people and presence ------------------------------------------------------------------------

  private person(uri: string, name?: string, raw?: Json, href?: string): Person {
    const key = sip(uri).toLowerCase();
    let p = this.people.get(key);
    if (!p) {
      p = { uri: key, name: name || key.replace(/^sip:/, ""), rev: 0 };
      this.people.set(key, p);
    }
    if (name) p.name = name;
    if (raw) p.raw = raw;
    if (href) p.href = href;
    return p;
  }

  private personFrom(c: Contact): Person {
    return this.person(c.uri, c.name, c.raw, c.href);
  }

  private async loadContacts(): Promise<void> {
    const groups = await this.session.myGroups();
    const loaded = await Promise.all(
      groups.map((g) => this.session.groupContacts(g).catch(() => [] as Contact[])),
    );
    this.groups = groups.map((g, i) => ({
      id: g.id,
      name: g.name,
      kind: g.kind,
      members: loaded[i].map((c) => this.personFrom(c).uri),
    }));
    this.changed();
    void this.watch(this.groups.flatMap((g) => g.members));
  }

  /** Presence of these people, via one ad hoc subscription renewed before it expires. */
  async watch(uris: string[]): Promise<void> {
    const fresh = [...new Set(uris.map((u) => sip(u).toLowerCase()))].filter(
      (u) => !this.watched.has(u) && u !== this.me.uri.toLowerCase(),
    );
    if (!fresh.length || this.watched.size >= MAX_WATCHED) return;
    for (const u of fresh) this.watched.add(u);
    try {
      if (this.subscriptionHref && (await this.session.addToSubscription(this.subscriptionHref, fresh)))
        return;
      this.subscriptionHref = await this.session.subscribePresence([...this.watched], 30);
    } catch (e) {
      // Never rejects: callers fire and forget. Presence is retried with the next watch().
      for (const u of fresh) this.watched.delete(u);
      if (e instanceof AuthError) this.authLost();
    }
  }

  private async renewSubscription(): Promise<void> {
    if (!this.subscriptionHref) return;
    const ok = await this.session.extendSubscription(this.subscriptionHref, 10).catch(() => false);
    if (!ok) {
      this.subscriptionHref = null;
      const uris = [...this.watched];
      this.watched.clear();
      await this.watch(uris);
    }
  }

  private async refreshPerson(ev: UcwaEvent): Promise<void> {
    const uri = uriFromPeopleHref(ev.inHref ?? ev.href);
    if (!uri) return;
    const body = await this.session.getJson(ev.href);
    if (!body) return;
    const p = this.person(uri);
    if (ev.rel === "contactPresence" && typeof body.availability === "string")
      p.availability = body.availability;
    if (ev.rel === "contactNote") p.note = typeof body.message === "string" ? body.message : "";
    p.rev += 1;
    this.changed();
  }

  async search(query: string, signal?: AbortSignal): Promise<Person[]> {
    const found = await this.session.search(query, signal);
    const people = found.filter((c) => c.uri).map((c) => this.personFrom(c));
    void this.watch(people.map((p) => p.uri));
    return people;
  }

  /** The contact card: the contact resource and its presence, note and location. */
  async card(uri: string): Promise<{ person: Person; contact: Json; location: string }> {
    const p = this.person(uri);
    const href = p.href ?? this.session.peopleHref("self")?.replace(/\/?$/, `/${uri.replace(/^sip:/, "")}`);
    const contact = href ? await this.session.getContact(href) : {};
    const base = href ?? this.session.appUrl;
    const get = async (rel: string): Promise<Json> => {
      const h = link(contact, rel);
      return h ? ((await this.session.getJson(absolute(base, h)).catch(() => null)) ?? {}) : {};
    };
    const [presence, note, location] = await Promise.all([
      get("contactPresence"),
      get("contactNote"),
      get("contactLocation"),
    ]);
    if (typeof presence.availability === "string") p.availability = presence.availability;
    if (typeof note.message === "string") p.note = note.message;
    if (typeof contact.name === "string") p.name = contact.name;
    p.raw = contact;
    p.rev += 1;
    this.changed();
    return { person: p, contact, location: typeof location.location === "string" ? location.location : "" };
  }

  photoHref(uri: string): string | null {
    const p = this.people.get(sip(uri).toLowerCase());
    const h = p?.raw ? link(p.raw, "contactPhoto") : null;
    return h ? absolute(p?.href ?? this.session.appUrl, h) : null;
  }

  /** The photo as a Blob: fetched with the bearer token, since an `<img>` cannot send one. */
  async photo(href: string): Promise<Blob | null> {
    return this.session.http.blob(href).catch(() => null);
  }
}

function linksOf(body: Json, rel: string): { href: string; title?: string }[] {
  const l = isObject(body._links) ? body._links[rel] : undefined;
  const arr = Array.isArray(l) ? l : l ? [l] : [];
  return arr
    .filter(isObject)
    .map((o) => ({ href: String(o.href), title: typeof o.title === "string" ? o.title : undefined }));
}

/** A message resource (from an event or a history page) as the UI shows it. */
export function messageFrom(res: Json, href: string, myName: string): ChatMessage {
  const plain = link(res, "plainMessage");
  const html = link(res, "htmlMessage");
  const incoming = res.direction === "Incoming";
  const sender = incoming ? (linkObject(res, "participant")?.title ?? "Someone") : myName;
  const text = plain
    ? decodeDataUri(plain).text
    : html
      ? decodeDataUri(html).text.replace(/<[^>]*>/g, "")
      : "";
  return {
    key: href,
    href,
    direction: incoming ? "in" : "out",
    sender,
    text,
    html: incoming && html ? decodeDataUri(html).text : undefined,
    time: parseDate(res.timeStamp) ?? Date.now(),
    status: incoming ? undefined : "delivered",
  };
}

export function errorText(e: unknown): string {
  if (e instanceof UcwaClientError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
