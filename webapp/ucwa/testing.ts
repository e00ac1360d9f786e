// Test support: a fetch that answers from recorded server answers and records what was asked.
import recorded from "./fixtures/recorded.json";
import type { Fetch } from "./http";

export const BASE = "http://127.0.0.1:8080";
export const REC = recorded as unknown as Record<string, any>;

export interface Asked {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export type Route = (req: Asked) => Response | Promise<Response> | undefined;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

export function empty(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers });
}

export function fakeFetch(routes: Route[]): { fetch: Fetch; asked: Asked[] } {
  const asked: Asked[] = [];
  const fetch: Fetch = async (url, init) => {
    const req: Asked = {
      method: init.method ?? "GET",
      url,
      headers: (init.headers ?? {}) as Record<string, string>,
      body: typeof init.body === "string" ? init.body : undefined,
    };
    asked.push(req);
    for (const r of routes) {
      const res = await r(req);
      if (res) return res;
    }
    return json({ code: "NotFound" }, 404);
  };
  return { fetch, asked };
}

export function on(method: string, pathRe: RegExp, answer: (req: Asked) => Response): Route {
  return (req) =>
    req.method === method && pathRe.test(new URL(req.url).pathname + new URL(req.url).search)
      ? answer(req)
      : undefined;
}

/** The recorded sign-in: discovery, the 401 challenge, the token, the user and the application. */
export function signInRoutes(password = "tosh-secret"): Route[] {
  return [
    on("GET", /^\/$/, () => json(REC.root)),
    on("GET", /oauth\/user$/, (req) =>
      req.headers.Authorization
        ? json(REC.user)
        : empty(401, { "www-authenticate": REC.user401.headers["www-authenticate"] }),
    ),
    on("POST", /oauthtoken$/, (req) =>
      new URLSearchParams(req.body).get("password") === password
        ? json({ access_token: "cwt=TOKEN", expires_in: 28800, token_type: "Bearer" })
        : json({ error: "invalid_grant" }, 400),
    ),
    on("POST", /\/applications$/, () => json(REC.app, 201, { location: REC.app._links.self.href })),
    on("POST", /makeMeAvailable$/, () => empty(204)),
    on("GET", /\/applications\/\d+$/, () => json(REC.app_after_mma)),
    on("GET", /\/me\/presence$/, () => json(REC.me_presence)),
    on("GET", /\/me\/note$/, () => json(REC.me_note)),
    on("GET", /\/people\/groups$/, () => json(REC.people_myGroups)),
    on("GET", /\/people\/contacts/, () => json(REC.people_myContacts)),
    on("GET", /communication\/conversations/, () =>
      json({ _links: { self: { href: "x" } }, rel: "conversations" }),
    ),
    on("POST", /presenceSubscriptions$/, () =>
      json(REC.sub.body, 201, { location: REC.sub.headers.location }),
    ),
  ];
}
