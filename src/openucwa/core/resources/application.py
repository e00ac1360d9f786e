"""application, me, people, communication and policies (SPEC §7.2, §11.1, §12.1, §13.1, §7.6).

The renderers take what is known at the moment (records) and never decide state; which links are
present follows SPEC §3.7: a link is there only when its operation works now.
"""

from __future__ import annotations

from ..hal import Json, Link, link, resource
from ..links import AppLinks
from ..models import Application, User
from .people import people as people_hub

PUT_KEY_VALUE = "please pass this in a PUT request"


def me(app: Application, user: User) -> Json:
    a = AppLinks(app.id)
    links: dict[str, Link | None] = {}
    if app.available:
        links["presence"] = link(a.presence())
        links["note"] = link(a.note())
        links["location"] = link(a.location())
        links["reportMyActivity"] = link(a.report_my_activity())
    else:
        links["makeMeAvailable"] = link(a.make_me_available())
    links["photo"] = link(a.photo(user.uri))  # uploaded, else generated initials (SPEC §11.8)
    props: Json = {
        "name": user.name,
        "uri": f"sip:{user.uri}",
        "emailAddresses": [user.email] if user.email else None,
        "title": user.title,
        "department": user.department,
        "company": user.company,
        "officeLocation": user.office,
        "workPhoneNumber": user.work_phone,
    }
    return resource("me", a.me(), props, links)


def people(app: Application) -> Json:
    return people_hub(app.id)  # one renderer for the hub, embedded or fetched


def communication(app: Application) -> Json:
    a = AppLinks(app.id)
    props: Json = {
        app.comm_key: PUT_KEY_VALUE,
        "supportedModalities": list(app.supported_modalities) if app.available else [],
        "supportedMessageFormats": list(app.supported_message_formats),
    }
    return resource(
        "communication",
        a.communication(),
        props,
        {"conversations": link(a.conversations()), "startMessaging": link(a.start_messaging())},
    )


def policies(app: Application, *, html_messaging: bool) -> Json:
    props: Json = {
        "htmlMessaging": "Enabled" if html_messaging else "Disabled",
        "photos": "Enabled",
        "emoticons": "Disabled",
    }
    return resource("policies", AppLinks(app.id).policies(), props)


def application(app: Application, user: User) -> Json:
    a = AppLinks(app.id)
    props: Json = {
        "culture": app.culture,
        "userAgent": app.user_agent,
        "type": app.type,
        "endpointId": app.endpoint_id,
        "instanceId": app.instance_id,
        "id": app.id,
    }
    links = {
        "policies": link(a.policies()),
        "batch": link(a.batch()),
        "events": link(a.events(app.lowest_batch)),
    }
    embedded = {"me": me(app, user), "people": people(app), "communication": communication(app)}
    return resource("application", a.application(), props, links, embedded)


def conversations(app: Application, hrefs: list[str]) -> Json:
    a = AppLinks(app.id)
    return resource("conversations", a.conversations(), links={"conversation": [link(h) for h in hrefs]})


def presence(app: Application, availability: str, activity: str | None) -> Json:
    return resource(
        "presence", AppLinks(app.id).presence(), {"availability": availability, "activity": activity}
    )


def note(app: Application, message: str | None) -> Json:
    return resource("note", AppLinks(app.id).note(), {"message": message or None, "type": "Personal"})


def location(app: Application, value: str | None) -> Json:
    return resource("location", AppLinks(app.id).location(), {"location": value or None})
