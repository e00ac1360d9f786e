// What the tab does around the client: unread badge in title and favicon, desktop notifications and
// sound (off unless the user turned them on), activity reports, visibility, aria-live announcements.
import type { Notice, WebClient } from "../ucwa/client";

const PREFS_KEY = "openucwa.prefs"; // preferences only; never the token

export interface Prefs {
  notifications: boolean;
  sound: boolean;
}

export function loadPrefs(): Prefs {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) ?? "{}") as Partial<Prefs>;
    return { notifications: !!p.notifications, sound: !!p.sound };
  } catch {
    return { notifications: false, sound: false };
  }
}

export function savePrefs(p: Prefs): void {
  localStorage.setItem(PREFS_KEY, JSON.stringify(p));
}

/** Asked on a user gesture only; false (and stays off) when the browser or the user says no. */
export async function enableNotifications(): Promise<boolean> {
  if (!("Notification" in window)) return false;
  if (Notification.permission === "granted") return true;
  if (Notification.permission === "denied") return false;
  return (await Notification.requestPermission()) === "granted";
}

type Announce = (text: string) => void;
let announcer: Announce = () => undefined;
export function setAnnouncer(fn: Announce): void {
  announcer = fn;
}

function beep(): void {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.05;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.12);
    osc.onended = () => void ctx.close();
  } catch {
    // No audio: a notification sound is optional.
  }
}

function favicon(count: number): string {
  const badge =
    count > 0
      ? `<circle cx="23" cy="9" r="9" fill="#d13438"/><text x="23" y="13" font-size="12" font-family="sans-serif" text-anchor="middle" fill="#fff">${count > 9 ? "9+" : count}</text>`
      : "";
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="2" y="6" width="24" height="20" rx="5" fill="#3b5bdb"/><path d="M8 26l-2 5 7-5z" fill="#3b5bdb"/>${badge}</svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

export function attachBrowser(client: WebClient): void {
  const icon = document.querySelector<HTMLLinkElement>("link[rel=icon]");
  let lastCount = -1;
  client.subscribe(() => {
    const n = client.phase === "signed-in" ? client.unreadTotal : 0;
    if (n === lastCount) return;
    lastCount = n;
    document.title = n > 0 ? `(${n}) OpenUCWA` : "OpenUCWA";
    if (icon) icon.href = favicon(n);
  });
  if (icon) icon.href = favicon(0);
  const visibility = (): void =>
    client.setVisible(document.visibilityState === "visible" && document.hasFocus());
  document.addEventListener("visibilitychange", visibility);
  window.addEventListener("focus", visibility);
  window.addEventListener("blur", visibility);
  // A laptop that slept leaves a P-GET that may never answer: a timer that fired far too late
  // means we slept; the network coming back means the same.
  let last = Date.now();
  setInterval(() => {
    const now = Date.now();
    if (now - last > 30_000) client.wake();
    last = now;
  }, 5000);
  window.addEventListener("online", () => client.wake());
  for (const type of ["keydown", "pointerdown", "wheel"]) {
    window.addEventListener(type, () => client.activity(), { passive: true });
  }
  client.onNotice = (n: Notice) => {
    announcer(n.kind === "invitation" ? `${n.title}. ${n.body}` : `New message from ${n.title}: ${n.body}`);
    const prefs = loadPrefs();
    const away =
      !(document.visibilityState === "visible" && document.hasFocus()) || client.selected !== n.conversation;
    if (!away) return;
    if (prefs.sound) beep();
    if (prefs.notifications && "Notification" in window && Notification.permission === "granted") {
      const note = new Notification(n.title, { body: n.body.slice(0, 200), tag: n.conversation });
      note.onclick = () => {
        window.focus();
        client.select(n.conversation);
        note.close();
      };
    }
  };
}
