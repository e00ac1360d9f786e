import { describe, expect, it } from "vitest";
import { AuthError } from "./errors";
import { parsePage, readChannelPage } from "./events";
import { decodeDataUri, parseDate } from "./links";
import { Session, parseChallenge } from "./session";
import { BASE, REC, fakeFetch, signInRoutes } from "./testing";

describe("sign-in (401 challenge → oauthtoken password grant → application)", () => {
  it("follows links only and sends the bearer token afterwards", async () => {
    const { fetch, asked } = fakeFetch(signInRoutes());
    const s = new Session(`${BASE}/`, fetch, "endpoint-1");
    await s.authenticate("toshm@contoso.com", "tosh-secret");
    await s.createApplication();
    await s.makeMeAvailable();
    expect(asked.map((a) => `${a.method} ${new URL(a.url).pathname}`)).toEqual([
      "GET /",
      "GET /Autodiscover/AutodiscoverService.svc/root/oauth/user",
      "POST /WebTicket/oauthtoken",
      "GET /Autodiscover/AutodiscoverService.svc/root/oauth/user",
      "POST /ucwa/oauth/v1/applications",
      "POST /ucwa/oauth/v1/applications/836639606806/me/makeMeAvailable",
      "GET /ucwa/oauth/v1/applications/836639606806",
    ]);
    const token = new URLSearchParams(asked[2].body);
    expect(token.get("grant_type")).toBe("password");
    expect(token.get("username")).toBe("toshm@contoso.com");
    expect(asked[2].headers.Authorization).toBeUndefined();
    expect(asked[4].headers.Authorization).toBe("Bearer cwt=TOKEN");
    expect(JSON.parse(asked[4].body ?? "{}").EndpointId).toBe("endpoint-1");
    expect(JSON.parse(asked[5].body ?? "{}").SupportedMessageFormats).toEqual(["Plain", "Html"]);
    expect(s.nextHref).toBe(`${BASE}/ucwa/oauth/v1/applications/836639606806/events?ack=1`);
    expect(s.meHref("reportMyActivity")).toBe(
      `${BASE}/ucwa/oauth/v1/applications/836639606806/me/reportMyActivity`,
    );
  });

  it("says a wrong password plainly", async () => {
    const { fetch } = fakeFetch(signInRoutes());
    const s = new Session(`${BASE}/`, fetch);
    await expect(s.authenticate("toshm@contoso.com", "nope")).rejects.toThrow(AuthError);
    await expect(s.authenticate("toshm@contoso.com", "nope")).rejects.toThrow("Wrong user name or password.");
  });

  it("reads the MsRtcOAuth challenge", () => {
    expect(parseChallenge(REC.user401.headers["www-authenticate"])).toBe(`${BASE}/WebTicket/oauthtoken`);
    expect(parseChallenge("Bearer realm=x")).toBeNull();
  });
});

describe("event channel pages", () => {
  it("flattens sender blocks into events with absolute hrefs", () => {
    const page = REC.pages.lene[1];
    const events = parsePage(`${BASE}/ucwa/oauth/v1/applications/851914497522/events?ack=2`, page);
    const inv = events.find((e) => e.rel === "messagingInvitation");
    expect(inv?.type).toBe("started");
    expect(inv?.href.startsWith(`${BASE}/ucwa/`)).toBe(true);
    expect(inv?.resource.direction).toBe("Incoming");
    const typing = parsePage(BASE, REC.pages.lene[3]).find((e) => e.inRel === "typingParticipants");
    expect(typing?.title).toBe("Tosh Meston");
  });

  it("tells next, resume and resync apart", () => {
    const base = `${BASE}/ucwa/oauth/v1/applications/1/events?ack=3`;
    expect(readChannelPage(base, { _links: { resync: { href: "/e?ack=2" } } })).toEqual({
      kind: "resync",
      next: `${BASE}/e?ack=2`,
    });
    const resume = readChannelPage(base, { _links: { resume: { href: "/e?ack=9" } } });
    expect(resume.kind === "events" && resume.resume && resume.next).toBe(`${BASE}/e?ack=9`);
    expect(() => readChannelPage(base, { _links: {} })).toThrow();
  });
});

describe("message bodies", () => {
  it("decodes the server's data URIs and dates", () => {
    expect(decodeDataUri("data:text/plain;charset=utf-8,hello+first").text).toBe("hello first");
    expect(decodeDataUri("data:text/html;charset=utf-8,%3Cb%3Ebold%3C%2Fb%3E").text).toBe("<b>bold</b>");
    expect(parseDate("/Date(1796383029307)/")).toBe(1796383029307);
  });
});
