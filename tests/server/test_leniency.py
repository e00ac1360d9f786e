"""Leniency of the server deployed clients were written against (issue #11 item 4, in part): each
variant behaves exactly like its canonical form and opens no way around authorisation."""

from __future__ import annotations

from .conftest import BASE, LENE, SARA, InProcessFactory, connect_sara_and_lene


async def test_repeated_slashes_resolve_as_one(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        doubled = BASE + s.self_href.replace("/ucwa/oauth/v1/", "//ucwa//oauth/v1/")
        assert (await s.get(doubled)).json()["_links"]["self"]["href"] == s.self_href
        assert (await srv.http.get(doubled)).status_code == 401  # still behind the token
        body = {"userAgent": "tests", "endpointId": "e-doubled", "culture": "en-US"}
        r = await srv.http.post(BASE + "//ucwa/oauth/v1/applications", json=body, headers=s.headers)
        assert r.status_code == 201


async def test_posting_text_to_a_message_sends_a_new_one(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, _lene, send = await connect_sara_and_lene(srv)
        first = await sara.post(send, content=b"first", headers={"Content-Type": "text/plain"})
        assert first.status_code == 201
        again = await sara.post(
            first.headers["location"], content=b"reply", headers={"Content-Type": "text/plain"}
        )
        assert again.status_code == 201 and again.headers["location"] != first.headers["location"]
        bad = await sara.post(first.headers["location"], content=b"", headers={"Content-Type": "text/plain"})
        assert bad.status_code == 400  # the same rules as sendMessage
        history = (await sara.get(send.rsplit("/messages", 1)[0] + "/history")).json()
        texts = [
            m["_links"]["plainMessage"]["href"].rsplit(",", 1)[1] for m in history["_embedded"]["message"]
        ]
        assert texts == ["reply", "first"]  # newest first
        other = await srv.sign_in(*LENE[::2])  # Lene's own token on Sara's message: 404, like any other
        plain = {"Content-Type": "text/plain"}
        assert (await other.post(first.headers["location"], content=b"x", headers=plain)).status_code == 404


async def test_set_is_typing_and_report_my_activity_aliases(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        sara, lene, send = await connect_sara_and_lene(srv)
        typing = send.rsplit("/messages", 1)[0] + "/setIsTyping"
        assert (await sara.post(typing)).status_code == 204
        conversations = (await lene.get(lene.link("communication", "self") + "/conversations")).json()
        conv = conversations["_links"]["conversation"]
        conv_href = (conv[0] if isinstance(conv, list) else conv)["href"]
        typists = (await lene.get(conv_href + "/messaging/typingParticipants")).json()
        assert [p["title"] for p in typists["_links"].get("participant", [])] == ["Sara Davis"]
        assert (await sara.post(sara.self_href + "/reportMyActivity")).status_code == 204
        assert (await sara.post(sara.self_href + "/me/reportMyActivity")).status_code == 204


async def test_accept_variants_give_json_and_a_get_ignores_content_type(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        s = await srv.sign_in(*SARA[::2])
        for accept in (None, "*/*", "application/json; charset=utf-8", "application/json;q=0.9"):
            headers = (
                {**s.headers, "Accept": accept} if accept else {"Authorization": s.headers["Authorization"]}
            )
            r = await srv.http.get(s.self_href, headers=headers)
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), accept
            assert r.json()["rel"] == "application"
        r = await s.get(s.self_href, headers={"Content-Type": "application/json"})
        assert r.status_code == 200


async def test_token_form_in_every_encoding_clients_send(in_process: InProcessFactory) -> None:
    async with in_process() as srv:
        fields = {"grant_type": "password", "username": SARA[0], "password": SARA[2]}
        urlencoded = b"grant_type=password&username=sarad%40contoso.com&password=sara-secret"
        for ctype in (
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
        ):
            r = await srv.http.post(
                "/WebTicket/oauthtoken", content=urlencoded, headers={"Content-Type": ctype}
            )
            assert r.status_code == 200 and r.json()["token_type"] == "Bearer", ctype
        multipart = await srv.http.post(
            "/WebTicket/oauthtoken", files={k: (None, v) for k, v in fields.items()}
        )
        assert multipart.status_code == 200 and multipart.json()["access_token"].startswith("cwt=")
        wrong = await srv.http.post(
            "/WebTicket/oauthtoken",
            files={**{k: (None, v) for k, v in fields.items()}, "password": (None, "nope")},
        )
        assert wrong.json() == {"error": "invalid_grant"}  # the same answer as the urlencoded form
        broken = await srv.http.post(
            "/WebTicket/oauthtoken",
            content=b"--x\r\nnonsense",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert broken.status_code == 400 and broken.json() == {"error": "invalid_request"}
        upload = await srv.http.post("/WebTicket/oauthtoken", files={"username": ("a.txt", b"x")})
        assert upload.json() == {"error": "invalid_request"}
