// The views: sign-in, then the sidebar (me, search, conversations, contacts) and one conversation.
// Accessible names here are a contract (issue #13 item 8): "User name", "Password", "Sign in",
// "Search people", "Message", "Send", "My status", "Add people", "Accept", "Decline", "Sign out".
import { Component, type ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import {
  AVAILABILITIES,
  errorText,
  type ChatMessage,
  type Conversation,
  type Person,
  type WebClient,
} from "../ucwa/client";
import { enableNotifications, loadPrefs, savePrefs, setAnnouncer } from "./browser";
import { AVAILABILITY_LABEL, linkify, presenceClass, sanitize, timeOf } from "./format";

type Props = { client: WebClient };

function useClient(client: WebClient): number {
  const [, force] = useState(0);
  useEffect(() => client.subscribe(() => force((v) => v + 1)), [client]);
  return client.version;
}

/** Re-render only when `rev` changes (a tiny memo; preact/compat would add weight for one use). */
class Pure<P extends { rev: unknown; render: () => ComponentChildren }> extends Component<P> {
  shouldComponentUpdate(next: P): boolean {
    return next.rev !== this.props.rev;
  }
  render(): ComponentChildren {
    return this.props.render();
  }
}

export function App({ client }: Props) {
  useClient(client);
  const [live, setLive] = useState("");
  useEffect(() => setAnnouncer((t) => setLive(t)), []);
  return (
    <>
      <div class="sr-only" aria-live="polite" role="status">
        {live}
      </div>
      {client.phase === "signed-in" ? <Main client={client} /> : <SignIn client={client} />}
    </>
  );
}

function SignIn({ client }: Props) {
  const [user, setUser] = useState(client.username);
  const [password, setPassword] = useState("");
  const busy = client.phase === "signing-in";
  useEffect(() => client.prepare(), []);
  const submit = (e: Event): void => {
    e.preventDefault();
    void client.signIn(user, password);
  };
  return (
    <main class="signin">
      <form class="signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">OpenUCWA</h1>
        <p class="muted">Sign in to chat</p>
        <label for="signin-user">User name</label>
        <input
          id="signin-user"
          name="username"
          autocomplete="username"
          value={user}
          required
          onInput={(e) => setUser((e.target as HTMLInputElement).value)}
        />
        <label for="signin-password">Password</label>
        <input
          id="signin-password"
          name="password"
          type="password"
          autocomplete="current-password"
          value={password}
          required
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
        />
        {client.error && (
          <p class="error" role="alert">
            {client.error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function availabilityLabel(a: string | undefined): string {
  return AVAILABILITY_LABEL[a ?? "Offline"] ?? a ?? "Offline";
}

/** The coloured dot; its meaning is spoken by `Said` after the name, so names come first. */
function Dot({ availability }: { availability?: string }) {
  return (
    <span
      class={`dot ${presenceClass(availability)}`}
      title={availabilityLabel(availability)}
      aria-hidden="true"
    />
  );
}

function Said({ availability }: { availability?: string }) {
  return <span class="sr-only">, {availabilityLabel(availability)}</span>;
}

function Main({ client }: Props) {
  const [switcher, setSwitcher] = useState(false);
  const [card, setCard] = useState<string | null>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setSwitcher(true);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const selected = client.selected ? client.conversations.get(client.selected) : undefined;
  return (
    <div class="shell">
      {!client.connection.ok && <Reconnecting client={client} />}
      <div class={`layout ${selected ? "has-selection" : ""}`}>
        <Sidebar client={client} onCard={setCard} />
        <main class="pane" aria-label="Conversation">
          {selected ? (
            <ConversationView key={selected.id} client={client} conv={selected} />
          ) : (
            <div class="empty">
              <p>Select a conversation, or search for someone to chat with.</p>
              <p class="muted">
                <kbd>Ctrl</kbd>+<kbd>K</kbd> switches between conversations.
              </p>
            </div>
          )}
        </main>
      </div>
      <Invitations client={client} />
      {switcher && <Switcher client={client} onClose={() => setSwitcher(false)} />}
      {card && <ContactCard client={client} uri={card} onClose={() => setCard(null)} />}
    </div>
  );
}

function Reconnecting({ client }: Props) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((v) => v + 1), 1000);
    return () => clearInterval(t);
  }, []);
  const secs = client.connection.retryAt
    ? Math.max(0, Math.ceil((client.connection.retryAt - Date.now()) / 1000))
    : 0;
  return (
    <div class="banner" role="alert">
      <span>Reconnecting…{secs > 0 ? ` (next try in ${secs} s)` : ""}</span>
      <button type="button" onClick={() => client.tryNow()}>
        Try now
      </button>
    </div>
  );
}

function Avatar({ client, href, name }: { client: WebClient; href: string | null; name: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let revoke: string | null = null;
    let alive = true;
    if (href)
      void client.photo(href).then((b) => {
        if (b && alive) {
          revoke = URL.createObjectURL(b);
          setUrl(revoke);
        }
      });
    return () => {
      alive = false;
      if (revoke) URL.revokeObjectURL(revoke);
    };
  }, [href]);
  const initials = name
    .split(/\s+/)
    .map((w) => w[0] ?? "")
    .join("")
    .slice(0, 2)
    .toUpperCase();
  return url ? (
    <img class="avatar" src={url} alt="" />
  ) : (
    <span class="avatar" aria-hidden="true">
      {initials}
    </span>
  );
}

function Sidebar({ client, onCard }: Props & { onCard: (uri: string) => void }) {
  const convs = client.sortedConversations();
  return (
    <aside class="sidebar" aria-label="Contacts and conversations">
      <MeBar client={client} />
      <PeopleSearch client={client} label="Search people" onPick={(p) => client.openChat(p.uri, p.name)} />
      <nav aria-label="Conversations">
        <h2>Conversations</h2>
        {convs.length === 0 ? (
          <p class="muted small">No conversations yet.</p>
        ) : (
          <ul class="list">
            {convs.map((c) => (
              <Pure
                key={c.id}
                rev={`${c.rev}:${client.selected === c.id}`}
                render={() => <ConversationRow client={client} conv={c} />}
              />
            ))}
          </ul>
        )}
      </nav>
      <section aria-labelledby="contacts-title" class="contacts">
        <h2 id="contacts-title">Contacts</h2>
        {client.groups.every((g) => g.members.length === 0) && <p class="muted small">No contacts yet.</p>}
        {client.groups
          .filter((g) => g.members.length > 0)
          .map((g) => (
            <div key={g.id} class="group">
              <h3>{g.name}</h3>
              <ul class="list">
                {g.members.map((uri) => {
                  const p = client.people.get(uri);
                  return p ? (
                    <Pure
                      key={uri}
                      rev={p.rev}
                      render={() => <ContactRow client={client} person={p} onCard={onCard} />}
                    />
                  ) : null;
                })}
              </ul>
            </div>
          ))}
      </section>
    </aside>
  );
}

function ContactRow({
  client,
  person,
  onCard,
}: {
  client: WebClient;
  person: Person;
  onCard: (uri: string) => void;
}) {
  return (
    <li class="row with-preview">
      <button
        type="button"
        class={`row-main ${person.note ? "has-preview" : ""}`}
        aria-describedby={person.note ? `note-${person.uri}` : undefined}
        onClick={() => client.openChat(person.uri, person.name)}
      >
        <Dot availability={person.availability} />
        <span class="row-text">
          <span class="name">
            {person.name}
            <Said availability={person.availability} />
          </span>
        </span>
      </button>
      {person.note && (
        <span class="preview" id={`note-${person.uri}`}>
          {person.note}
        </span>
      )}
      <button
        type="button"
        class="icon"
        aria-label="Contact card"
        title={`Contact card: ${person.name}`}
        onClick={() => onCard(person.uri)}
      >
        <span class="info" aria-hidden="true">
          i
        </span>
      </button>
    </li>
  );
}

function ConversationRow({ client, conv }: { client: WebClient; conv: Conversation }) {
  const last = conv.messages[conv.messages.length - 1];
  const person = conv.remoteUri ? client.people.get(conv.remoteUri.toLowerCase()) : undefined;
  return (
    <li class={`row with-preview ${client.selected === conv.id ? "selected" : ""}`}>
      <button
        type="button"
        class="row-main has-preview"
        aria-current={client.selected === conv.id ? "true" : undefined}
        aria-describedby={`last-${conv.id}`}
        onClick={() => client.select(conv.id)}
      >
        {conv.participants.size > 1 ? (
          <span class="dot group" aria-hidden="true" />
        ) : (
          <Dot availability={person?.availability} />
        )}
        <span class="row-text">
          <span class="name">
            {conv.title}
            {conv.participants.size <= 1 && person && <Said availability={person.availability} />}
            {conv.unread > 0 && <span class="sr-only">, {conv.unread} unread</span>}
          </span>
        </span>
        {conv.unread > 0 && (
          <span class="badge" aria-hidden="true">
            {conv.unread}
          </span>
        )}
      </button>
      {/* Outside the button: message text must never become part of a button's name. */}
      <span class="preview" id={`last-${conv.id}`}>
        {last ? last.text : conv.invitation && !conv.invitation.answered ? "Invitation" : ""}
      </span>
    </li>
  );
}

function MeBar({ client }: Props) {
  const [note, setNote] = useState(client.me.note);
  const [prefs, setPrefs] = useState(loadPrefs());
  useEffect(() => setNote(client.me.note), [client.me.note]);
  const toggle = async (key: "notifications" | "sound"): Promise<void> => {
    const next = { ...prefs, [key]: !prefs[key] };
    if (key === "notifications" && next.notifications) next.notifications = await enableNotifications();
    savePrefs(next);
    setPrefs(next);
  };
  const explicit = AVAILABILITIES.some((a) => a.value === client.me.availability)
    ? client.me.availability
    : client.me.availability.replace(/^Idle/, "");
  return (
    <header class="me">
      <div class="me-top">
        <Avatar client={client} href={client.me.photoHref} name={client.me.name} />
        <div class="me-name">
          <strong>{client.me.name}</strong>
          <span class="sub">{client.me.uri.replace(/^sip:/, "")}</span>
        </div>
        <button type="button" class="secondary" onClick={() => void client.signOut()}>
          Sign out
        </button>
      </div>
      <div class="me-status">
        <Dot availability={client.me.availability} />
        <Said availability={client.me.availability} />
        <label class="sr-only" for="my-status">
          My status
        </label>
        <select
          id="my-status"
          value={explicit}
          onChange={(e) => void client.setAvailability((e.target as HTMLSelectElement).value)}
        >
          {AVAILABILITIES.map((a) => (
            <option key={a.value} value={a.value}>
              {a.label}
            </option>
          ))}
        </select>
      </div>
      <form
        class="me-note"
        onSubmit={(e) => {
          e.preventDefault();
          void client.setNote(note);
        }}
      >
        <label class="sr-only" for="my-note">
          Personal note
        </label>
        <input
          id="my-note"
          placeholder="What's happening? (Enter to save)"
          value={note}
          onInput={(e) => setNote((e.target as HTMLInputElement).value)}
          onBlur={() => note !== client.me.note && void client.setNote(note)}
        />
      </form>
      <div class="prefs">
        <label>
          <input
            type="checkbox"
            checked={prefs.notifications}
            onChange={() => void toggle("notifications")}
          />{" "}
          Desktop notifications
        </label>
        <label>
          <input type="checkbox" checked={prefs.sound} onChange={() => void toggle("sound")} /> Sound
        </label>
      </div>
    </header>
  );
}

/** Directory search as you type: debounced, and a newer query cancels the older request. */
function PeopleSearch({ client, label, onPick }: Props & { label: string; onPick: (p: Person) => void }) {
  const [q, setQ] = useState("");
  const [results, setResults] = useState<Person[] | null>(null);
  const [status, setStatus] = useState("");
  const ctl = useRef<AbortController | null>(null);
  useEffect(() => {
    ctl.current?.abort();
    if (q.trim().length < 2) {
      setResults(null);
      setStatus("");
      return;
    }
    const c = new AbortController();
    ctl.current = c;
    const t = setTimeout(() => {
      setStatus("Searching…");
      client
        .search(q.trim(), c.signal)
        .then((r) => {
          if (c.signal.aborted) return;
          setResults(r);
          setStatus(r.length ? `${r.length} found` : "Nobody found");
        })
        .catch((e: unknown) => {
          if (!c.signal.aborted) setStatus(errorText(e));
        });
    }, 200);
    return () => {
      clearTimeout(t);
      c.abort();
    };
  }, [q]);
  const id = label.replace(/\W+/g, "-").toLowerCase();
  return (
    <div class="search" role="search">
      <label class="sr-only" for={id}>
        {label}
      </label>
      <input
        id={id}
        type="search"
        placeholder={`${label}…`}
        value={q}
        autocomplete="off"
        onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") setQ("");
        }}
      />
      <span class="sr-only" role="status">
        {status}
      </span>
      {results && (
        <ul class="list results" aria-label={`${label} results`}>
          {results.length === 0 && <li class="muted small">{status}</li>}
          {results.map((p) => (
            <li key={p.uri} class="row">
              <button
                type="button"
                class="row-main"
                onClick={() => {
                  onPick(p);
                  setQ("");
                }}
              >
                <Dot availability={p.availability} />
                <span class="row-text">
                  <span class="name">
                    {p.name}
                    <Said availability={p.availability} />
                  </span>
                  <span class="sub">{p.uri.replace(/^sip:/, "")}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function statusText(m: ChatMessage): string {
  switch (m.status) {
    case "queued":
      return "Waiting for the other side…";
    case "sending":
      return "Sending…";
    case "delivered":
      return "Delivered";
    case "failed":
      return `Not delivered: ${m.reason ?? "failed"}`;
    default:
      return "";
  }
}

function MessageItem({ m }: { m: ChatMessage }) {
  if (m.direction === "notice") return <div class="notice">{m.text}</div>;
  return (
    <div class={`msg ${m.direction}`}>
      <div class="meta">
        <span class="who">{m.sender}</span> <time>{timeOf(m.time)}</time>
      </div>
      {m.html ? (
        // Sanitised by DOMPurify's allow-list before it reaches the DOM.
        <div class="body" dangerouslySetInnerHTML={{ __html: sanitize(m.html) }} />
      ) : (
        <div class="body">{linkify(m.text)}</div>
      )}
      {m.direction === "out" && <div class={`status ${m.status ?? ""}`}>{statusText(m)}</div>}
    </div>
  );
}

function conversationStatus(conv: Conversation, names: string[]): string {
  if (names.length > 1) return names.join(", ");
  if (conv.state === "Connecting") return "Inviting…";
  if (conv.state === "Incoming") return "Invitation";
  if (conv.state === "Connected" || conv.state === "Conferenced") return "Connected";
  if (conv.ended && !conv.remoteUri) return "Ended";
  return conv.messages.length
    ? "Not connected: your next message invites them again"
    : "Your first message invites them";
}

function ConversationView({ client, conv }: { client: WebClient; conv: Conversation }) {
  const [text, setText] = useState("");
  const [adding, setAdding] = useState(false);
  const log = useRef<HTMLDivElement>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
  const anchor = useRef<{ fromBottom: number; count: number; first: string | undefined } | null>(null);
  const atBottom = useRef(true);

  useEffect(() => composer.current?.focus(), [conv.id]);

  // A banner or a narrower window must not leave the newest message out of view.
  useEffect(() => {
    const el = log.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Keep the view where the reader is: at the bottom for new messages, fixed when older ones load.
  useLayoutEffect(() => {
    const el = log.current;
    if (!el) return;
    const prev = anchor.current;
    const first = conv.messages[0]?.key;
    if (prev && prev.first !== first && prev.count < conv.messages.length) {
      el.scrollTop = el.scrollHeight - prev.fromBottom;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    anchor.current = { fromBottom: el.scrollHeight - el.scrollTop, count: conv.messages.length, first };
  }, [conv.messages]);

  const onScroll = (): void => {
    const el = log.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    anchor.current = {
      fromBottom: el.scrollHeight - el.scrollTop,
      count: conv.messages.length,
      first: conv.messages[0]?.key,
    };
    if (el.scrollTop < 150 && conv.historyState === "more") void client.loadOlder(conv.id);
  };

  const send = (): void => {
    const t = text;
    if (!t.trim()) return;
    setText("");
    atBottom.current = true;
    void client.send(conv.id, t);
  };
  const typing = [...conv.typing.keys()];
  const pending = conv.invitation && !conv.invitation.answered;
  const names = [...conv.participants.values()].map((p) => p.name);
  return (
    <section class="conversation" aria-labelledby="conv-title">
      <header class="conv-head">
        <button
          type="button"
          class="icon back"
          aria-label="Back to the list"
          onClick={() => client.select(null)}
        >
          ←
        </button>
        <div class="conv-title">
          <h2 id="conv-title">{conv.title}</h2>
          <span class="sub">{conversationStatus(conv, names)}</span>
        </div>
        <button type="button" class="secondary" onClick={() => setAdding(true)}>
          Add people
        </button>
        <button type="button" class="secondary" onClick={() => void client.leave(conv.id)}>
          Leave
        </button>
      </header>
      <div class="log" ref={log} onScroll={onScroll} role="log" aria-label="Chat history" tabIndex={0}>
        {conv.historyState === "loading" && <div class="notice">Loading older messages…</div>}
        {conv.historyState === "done" && conv.messages.length > 0 && (
          <div class="notice">Beginning of the conversation</div>
        )}
        {conv.messages.map((m) => (
          <Pure key={m.key} rev={m} render={() => <MessageItem m={m} />} />
        ))}
        {pending && (
          <div class="notice">
            {conv.invitation?.from} invited you
            {conv.invitation?.preview ? `: “${conv.invitation.preview}”` : ""}. Accept the invitation to
            reply.
          </div>
        )}
      </div>
      <div class="typing" aria-live="off">
        {typing.length > 0 ? `${typing.join(", ")} ${typing.length > 1 ? "are" : "is"} typing…` : " "}
      </div>
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <label class="sr-only" for="composer">
          Message
        </label>
        <textarea
          id="composer"
          ref={composer}
          rows={2}
          placeholder={
            pending
              ? "Accept the invitation to reply"
              : "Type a message (Enter sends, Shift+Enter adds a line)"
          }
          value={text}
          disabled={!!pending}
          onInput={(e) => {
            setText((e.target as HTMLTextAreaElement).value);
            client.typing(conv.id);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" class="primary" disabled={!!pending}>
          Send
        </button>
      </form>
      {adding && (
        <Dialog title="Add people" onClose={() => setAdding(false)}>
          <PeopleSearch
            client={client}
            label="Person to add"
            onPick={(p) => {
              setAdding(false);
              void client.addParticipant(conv.id, p.uri);
            }}
          />
        </Dialog>
      )}
    </section>
  );
}

function Invitations({ client }: Props) {
  const pending = [...client.conversations.values()].filter((c) => c.invitation && !c.invitation.answered);
  if (!pending.length) return null;
  const shown = pending.slice(0, 3); // more wait their turn (they are in the sidebar too)
  return (
    <section class="toasts" aria-label="Invitations">
      {pending.length > shown.length && (
        <p class="toast more">{pending.length - shown.length} more invitations waiting</p>
      )}
      {shown.map((c) => (
        <div key={c.id} class="toast" role="group" aria-label={`Invitation from ${c.invitation?.from}`}>
          <strong>{c.invitation?.from} wants to chat</strong>
          {c.invitation?.preview && <p class="preview">{c.invitation.preview}</p>}
          <div class="actions">
            <button type="button" class="primary" onClick={() => void client.answer(c.id, true)}>
              Accept
            </button>
            <button type="button" class="secondary" onClick={() => void client.answer(c.id, false)}>
              Decline
            </button>
          </div>
        </div>
      ))}
    </section>
  );
}

function Dialog({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLElement>("input, button, select, textarea")?.focus();
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      prev?.focus();
    };
  }, []);
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <div class="dialog-head">
          <h2>{title}</h2>
          <button type="button" class="icon" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}

function Switcher({ client, onClose }: Props & { onClose: () => void }) {
  const [q, setQ] = useState("");
  const items = client
    .sortedConversations()
    .filter((c) => c.title.toLowerCase().includes(q.toLowerCase()))
    .slice(0, 20);
  const pick = (id: string): void => {
    client.select(id);
    onClose();
  };
  return (
    <Dialog title="Switch conversation" onClose={onClose}>
      <label class="sr-only" for="switcher">
        Conversation name
      </label>
      <input
        id="switcher"
        placeholder="Jump to…"
        value={q}
        onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && items[0]) pick(items[0].id);
        }}
      />
      <ul class="list">
        {items.map((c) => (
          <li key={c.id} class="row">
            <button type="button" class="row-main" onClick={() => pick(c.id)}>
              <span class="name">{c.title}</span>
              {c.unread > 0 && <span class="badge">{c.unread}</span>}
            </button>
          </li>
        ))}
      </ul>
    </Dialog>
  );
}

function ContactCard({ client, uri, onClose }: Props & { uri: string; onClose: () => void }) {
  const [data, setData] = useState<Awaited<ReturnType<WebClient["card"]>> | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    client.card(uri).then(setData, (e: unknown) => setError(errorText(e)));
  }, [uri]);
  const c = data?.contact ?? {};
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const phones = Array.isArray(c.phoneNumbers)
    ? c.phoneNumbers.map((p) =>
        typeof p === "object" && p ? String((p as { number?: string }).number ?? "") : String(p),
      )
    : [];
  const name = data?.person.name ?? uri;
  return (
    <Dialog title={`Contact card of ${name}`} onClose={onClose}>
      {error && <p class="error">{error}</p>}
      {data && (
        <div class="card">
          <Avatar client={client} href={client.photoHref(uri)} name={name} />
          <div>
            <p class="card-name">
              <Dot availability={data.person.availability} /> <strong>{name}</strong>
              <Said availability={data.person.availability} />
            </p>
            {typeof c.title === "string" && <p>{c.title}</p>}
            {typeof c.department === "string" && <p>{c.department}</p>}
            {data.person.note && <p class="note">“{data.person.note}”</p>}
            {list(c.emailAddresses).map((e) => (
              <p key={e}>
                <a href={`mailto:${e}`}>{e}</a>
              </p>
            ))}
            {phones.filter(Boolean).map((p) => (
              <p key={p}>{p}</p>
            ))}
            {data.location && <p>{data.location}</p>}
            <button
              type="button"
              class="primary"
              onClick={() => {
                client.openChat(uri, name);
                onClose();
              }}
            >
              Chat
            </button>
          </div>
        </div>
      )}
    </Dialog>
  );
}
