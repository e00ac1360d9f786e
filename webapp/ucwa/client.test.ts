import { describe, expect, it } from "vitest";
import { WebClient, uriFromPeopleHref } from "./client";
import { parsePage } from "./events";
import { BASE, REC, empty, fakeFetch, json, on, signInRoutes, type Route } from "./testing";

function memoryStorage(): Storage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
    clear: () => data.clear(),
    key: () => null,
    length: 0,
  } as unknown as Storage & { data: Map<string, string> };
}

async function signedIn(extra: Route[] = []) {
  const { fetch, asked } = fakeFetch([...extra, ...signInRoutes()]);
  const storage = memoryStorage();
  const client = new WebClient({
    rootUrl: `${BASE}/`,
    fetch,
    storage,
    setTimer: () => 0,
    clearTimer: () => undefined,
    sleep: () => new Promise(() => undefined), // the channel never retries in these tests
  });
  // The channel is not wanted here: events are fed by the test, in the recorded order.
  (client as unknown as { channel: { start(): Promise<void> } }).channel.start = () => Promise.resolve();
  await client.signIn("toshm@contoso.com", "tosh-secret");
  return { client, asked, storage };
}

async function feed(client: WebClient, pages: Record<string, unknown>[]): Promise<void> {
  for (const page of pages) for (const ev of parsePage(BASE, page)) await client.apply(ev);
}

describe("WebClient on recorded answers", () => {
  it("keeps the token and endpointId in sessionStorage, never elsewhere", async () => {
    const { client, storage } = await signedIn();
    expect(client.phase).toBe("signed-in");
    expect(client.me.name).toBe("Tosh Meston");
    const saved = JSON.parse(storage.data.get("openucwa.session") ?? "{}");
    expect(saved.token).toBe("cwt=TOKEN");
    expect(saved.endpointId).toBe(client.session.endpointId);
  });

  it("shows an incoming invitation, then the conversation, typing, and its end", async () => {
    const { client } = await signedIn();
    const notices: string[] = [];
    client.onNotice = (n) => notices.push(`${n.kind}:${n.title}`);
    await feed(client, [REC.pages.lene[1]]);
    const [conv] = client.conversations.values();
    expect(conv.invitation?.from).toBe("Tosh Meston");
    expect(conv.invitation?.preview).toBe("hello first");
    expect(conv.invitation?.accept).toMatch(/\/accept$/);
    expect(notices).toEqual(["invitation:Tosh Meston wants to chat"]);

    await feed(client, [REC.pages.lene[2]]);
    expect(conv.invitation?.answered).toBe(true);
    expect(conv.messaging.sendMessage).toMatch(/\/messaging\/messages$/);
    expect(conv.messages.map((m) => [m.direction, m.sender, m.text])).toEqual([
      ["in", "Tosh Meston", "hello first"],
    ]);
    expect(conv.unread).toBe(1);

    await feed(client, [REC.pages.lene[3]]);
    expect([...conv.typing.keys()]).toEqual(["Tosh Meston"]);
    await feed(client, [REC.pages.lene[4]]);
    expect(conv.typing.size).toBe(0);
    expect(conv.messages.at(-1)?.text).toBe("hi lene http://example.com");

    await feed(client, [REC.pages.lene[5]]);
    expect(conv.ended).toBe(true);
    expect(conv.messages.filter((m) => m.direction === "notice").map((m) => m.text)).toEqual([
      "Tosh Meston left the conversation.",
      "The conversation ended.",
    ]);
  });

  it("carries the first message with the invitation and queues the next until Accept", async () => {
    let op = "";
    const sent: string[] = [];
    const { client, asked } = await signedIn([
      on("POST", /messagingInvitations$/, (req) => {
        op = JSON.parse(req.body ?? "{}").operationId;
        return empty(201, { location: REC.startMessaging.headers.location });
      }),
      on("GET", /messaging\/history/, () => {
        const conv =
          "/ucwa/oauth/v1/applications/836639606806/communication/conversations/f80a5488e944041c9c62d7fd9ce84455";
        const m = (n: number, text: string) => ({
          direction: "Outgoing",
          timeStamp: `/Date(${1796383000000 + n})/`,
          _links: {
            self: { href: `${conv}/messaging/messages/${n}` },
            plainMessage: { href: `data:text/plain;charset=utf-8,${encodeURIComponent(text)}` },
          },
          rel: "message",
        });
        return json({
          _links: { self: { href: `${conv}/messaging/history` } },
          _embedded: { message: [m(2, "before you accept"), m(1, "hello first")] },
        });
      }),
      on("POST", /messaging\/messages\?operationId=/, (req) => {
        sent.push(req.body ?? "");
        return empty(201, { location: REC.send.headers.location });
      }),
    ]);
    const id = client.openChat("lenea@contoso.com", "Lene Aaling");
    await client.send(id, "hello first");
    await client.send(id, "before you accept");
    const conv = client.conversations.get(id)!;
    expect(conv.messages.map((m) => m.status)).toEqual(["sending", "queued"]);
    const start = asked.find((a) => /messagingInvitations$/.test(a.url))!;
    expect(JSON.parse(start.body ?? "{}").message).toBe("data:text/plain;charset=utf-8,hello%20first");
    expect(asked.filter((a) => /messagingInvitations$/.test(a.url))).toHaveLength(1);

    // The recorded outgoing invitation, under the operationId this client chose.
    const pages = JSON.parse(
      JSON.stringify(REC.pages.tosh.slice(2, 4)).replaceAll("3d99ce74-8838-4a27-9792-444018b9fd8e", op),
    );
    await feed(client, pages);
    await new Promise((r) => setTimeout(r, 0));
    expect(conv.state).toBe("Connected");
    expect(sent).toEqual(["before you accept"]);
    expect(conv.messages[0].status).toBe("delivered");
    expect(conv.messages[1].status).toBe("sending");
    expect(conv.participants.size).toBe(1);

    // History shows both lines; neither appears twice (the first had no href of its own).
    await client.loadOlder(id);
    expect(conv.messages.map((m) => m.text)).toEqual(["hello first", "before you accept"]);
    expect(conv.messages[0].href).toMatch(/\/messages\/1$/);
  });

  it("pages history backwards without showing a message twice", async () => {
    const hist = `${BASE}/ucwa/oauth/v1/applications/1/communication/conversations/c1/messaging/history`;
    const msg = (n: number, direction: string) => ({
      direction,
      timeStamp: `/Date(${1796383000000 + n})/`,
      _links: {
        self: {
          href: `/ucwa/oauth/v1/applications/1/communication/conversations/c1/messaging/messages/${n}`,
        },
        participant: { href: "/p/lenea@contoso.com", title: "Lene Aaling" },
        plainMessage: { href: `data:text/plain;charset=utf-8,m${n}` },
      },
      rel: "message",
    });
    const { client } = await signedIn([
      on("GET", /history\?limit=50$/, () =>
        json({
          _links: { self: { href: hist }, next: { href: `${hist}?before=3&limit=50` } },
          _embedded: { message: [msg(4, "Incoming"), msg(3, "Outgoing")] },
        }),
      ),
      on("GET", /history\?before=3/, () =>
        json({
          _links: { self: { href: hist } },
          _embedded: { message: [msg(2, "Incoming"), msg(1, "Incoming")] },
        }),
      ),
    ]);
    await client.apply({
      sender: "communication",
      senderHref: BASE,
      type: "added",
      rel: "conversation",
      href: `${BASE}/ucwa/oauth/v1/applications/1/communication/conversations/c1`,
      resource: { state: "Connected", _links: { history: { href: hist } } },
    });
    const [conv] = client.conversations.values();
    // m4 arrived live before history was read.
    await client.apply({
      ...parsePage(BASE, { sender: [] })[0],
      sender: "conversation",
      senderHref: conv.href!,
      type: "completed",
      rel: "message",
      href: `${BASE}/ucwa/oauth/v1/applications/1/communication/conversations/c1/messaging/messages/4`,
      status: "Success",
      resource: msg(4, "Incoming"),
    });
    await client.loadOlder(conv.id);
    expect(conv.messages.map((m) => m.text)).toEqual(["m3", "m4"]);
    expect(conv.historyState).toBe("more");
    await client.loadOlder(conv.id);
    expect(conv.messages.map((m) => m.text)).toEqual(["m1", "m2", "m3", "m4"]);
    expect(conv.messages.map((m) => m.direction)).toEqual(["in", "in", "out", "in"]);
    expect(conv.historyState).toBe("done");
  });

  it("after a resync, fetches what the missed events carried from history, once", async () => {
    const app = "/ucwa/oauth/v1/applications/836639606806";
    const conv = `${app}/communication/conversations/c1`;
    const msg = (n: number) => ({
      direction: "Incoming",
      timeStamp: `/Date(${1796383000000 + n})/`,
      _links: {
        self: { href: `${conv}/messaging/messages/${n}` },
        participant: { href: `${conv}/participants/lenea@contoso.com`, title: "Lene Aaling" },
        plainMessage: { href: `data:text/plain;charset=utf-8,m${n}` },
      },
      rel: "message",
    });
    let reads = 0; // the first read is the scrollback; the one after the resync holds m7, missed
    const history = () => {
      reads += 1;
      const page = reads === 1 ? [5, 4, 3] : [7, 6, 5];
      return json({
        _links: { self: { href: `${conv}/messaging/history` } },
        _embedded: { message: page.map(msg) },
      });
    };
    const { client } = await signedIn([
      on("GET", /communication\/conversations\?filter=active$/, () =>
        json({ _links: { self: { href: "x" }, conversation: [{ href: conv }] }, rel: "conversations" }),
      ),
      on("GET", /conversations\/c1$/, () =>
        json({
          state: "Connected",
          _links: { self: { href: conv }, history: { href: `${conv}/messaging/history` } },
        }),
      ),
      on("GET", /messaging\/history/, history),
    ]);
    await client.apply({
      sender: "communication",
      senderHref: `${BASE}${app}/communication`,
      type: "added",
      rel: "conversation",
      href: `${BASE}${conv}`,
      resource: { state: "Connected", _links: { history: { href: `${conv}/messaging/history` } } },
    });
    const [c] = client.conversations.values();
    await client.loadOlder(c.id); // shows m3, m4, m5
    await client.apply({
      sender: "conversation",
      senderHref: `${BASE}${conv}`,
      type: "completed",
      rel: "message",
      href: `${BASE}${conv}/messaging/messages/6`,
      status: "Success",
      resource: msg(6),
    });
    const onAnswer = (client as unknown as { onAnswer(a: unknown): Promise<void> }).onAnswer.bind(client);
    await onAnswer({ kind: "resync", next: `${BASE}${app}/events?ack=3` });
    expect(c.messages.map((m) => m.text)).toEqual(["m3", "m4", "m5", "m6", "m7"]);
    expect(c.ended).toBe(false);
  });

  it("announces who joins later, not the roster found on joining, even when 1:1 becomes a conference", async () => {
    const { client } = await signedIn();
    const conv = `${BASE}/ucwa/oauth/v1/applications/1/communication/conversations/c2`;
    const ev = (type: string, rel: string, href: string, resource = {}, title?: string) => ({
      sender: rel === "conversation" ? "communication" : "conversation",
      senderHref: conv,
      type,
      rel,
      href,
      title,
      resource,
    });
    const page = (...events: ReturnType<typeof ev>[]) =>
      (client as unknown as { onAnswer(a: unknown): Promise<void> }).onAnswer({
        kind: "events",
        next: `${BASE}/e`,
        resume: false,
        events,
      });
    await page(ev("added", "conversation", conv, { state: "Connecting" }));
    await page(
      ev("updated", "conversation", conv, { state: "Connected" }),
      ev("added", "participant", `${conv}/participants/lenea@contoso.com`, {}, "Lene Aaling"),
      ev("added", "participant", `${conv}/participants/bob@contoso.com`, {}, "Bob"),
    );
    await page(
      ev("updated", "conversation", conv, { state: "Conferencing" }),
      ev("added", "participant", `${conv}/participants/sarad@contoso.com`, {}, "Sara Davis"),
      ev("updated", "conversation", conv, { state: "Conferenced" }),
    );
    const [c] = client.conversations.values();
    expect(c.messages.map((m) => m.text)).toEqual(["Sara Davis joined the conversation."]);
    expect(c.title).toBe("Lene Aaling, Bob, Sara Davis");
  });

  it("updates a contact's presence when its contactPresence changes", async () => {
    const { client } = await signedIn([
      on("GET", /people\/lenea@contoso.com\/presence$/, () =>
        json({ ...REC.c_contactPresence, availability: "Busy" }),
      ),
    ]);
    await feed(client, [REC.pages.tosh[1]]);
    expect(client.people.get("sip:lenea@contoso.com")?.availability).toBe("Busy");
  });

  it("sign-out deletes the application and forgets the token", async () => {
    const { client, asked, storage } = await signedIn([on("DELETE", /applications\/\d+$/, () => empty(204))]);
    await client.signOut();
    expect(asked.at(-1)?.method).toBe("DELETE");
    expect(storage.data.has("openucwa.session")).toBe(false);
    expect(client.phase).toBe("signed-out");
  });

  it("goes back to sign-in with a message when the event channel's token is refused", async () => {
    const { fetch } = fakeFetch([on("GET", /\/events\?ack=/, () => empty(401)), ...signInRoutes()]);
    const storage = memoryStorage();
    const client = new WebClient({
      rootUrl: `${BASE}/`,
      fetch,
      storage,
      setTimer: () => 0,
      clearTimer: () => undefined,
    });
    await client.signIn("toshm@contoso.com", "tosh-secret");
    for (let i = 0; i < 50 && client.phase === "signed-in"; i++) await new Promise((r) => setTimeout(r, 5));
    expect(client.phase).toBe("signed-out");
    expect(client.error).toBe("Your session has expired. Sign in again.");
    expect(storage.data.has("openucwa.session")).toBe(false);
  });

  it("reads user addresses from people hrefs", () => {
    expect(uriFromPeopleHref(`${BASE}/ucwa/oauth/v1/applications/1/people/LeneA@contoso.com/presence`)).toBe(
      "sip:lenea@contoso.com",
    );
  });
});
