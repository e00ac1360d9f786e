// Entry point: one WebClient per tab, wired to the browser (fetch, sessionStorage, visibility,
// notifications); the components only render its state.
import { render } from "preact";
import { WebClient } from "../ucwa/client";
import { App } from "./App";
import { attachBrowser } from "./browser";
import "./style.css";

const client = new WebClient({
  rootUrl: new URL("/", location.href).toString(),
  fetch: (url, init) => fetch(url, init),
  storage: window.sessionStorage,
});
attachBrowser(client);
render(<App client={client} />, document.getElementById("app") as HTMLElement);
void client.restore();
