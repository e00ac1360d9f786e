// The event-channel loop: one P-GET at a time, back-off on failures (never a tight loop), and a
// way to retry at once ("Try now"). What each answer means is decided by the owner's callbacks.
import { ApplicationGone, AuthError, PGetReplaced } from "./errors";
import type { ChannelAnswer } from "./events";

export interface ChannelHooks {
  pget(signal: AbortSignal): Promise<ChannelAnswer>;
  /** A quick request after a failure: a held P-GET answers only when events come, so it cannot
   * tell the user that the server is back. */
  probe(): Promise<unknown>;
  onAnswer(answer: ChannelAnswer): Promise<void> | void;
  /** The application is gone (404/410) or replaced: create it again; then the loop goes on. */
  recover(error: ApplicationGone | PGetReplaced): Promise<void>;
  onAuthLost(error: AuthError): void;
  onConnection(state: { ok: boolean; retryAt: number | null; error?: string }): void;
}

export type Sleeper = (ms: number, signal: AbortSignal) => Promise<void>;

export const realSleep: Sleeper = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

/** 1 s, 2 s, 4 s … capped at 30 s, with ±20 % jitter so tabs do not retry in step. */
export function backoffDelay(failures: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class EventChannel {
  private running = false;
  private pgetCtl: AbortController | null = null;
  private sleepCtl: AbortController | null = null;
  failures = 0;
  private down = false;
  private kicked = false;

  constructor(
    private readonly hooks: ChannelHooks,
    private readonly sleep: Sleeper = realSleep,
    private readonly now: () => number = Date.now,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.running = true;
    return this.loop();
  }

  stop(): void {
    this.running = false;
    this.pgetCtl?.abort();
    this.sleepCtl?.abort();
  }

  /** Cut the current back-off short and try again now. */
  tryNow(): void {
    this.sleepCtl?.abort();
  }

  /** Drop the held P-GET and ask again at once: after a sleep or a network change it may be dead
   * without knowing it (the next P-GET supersedes it on the server). */
  kick(): void {
    if (!this.running) return;
    this.kicked = true;
    this.pgetCtl?.abort();
    this.sleepCtl?.abort();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.pgetCtl = new AbortController();
      try {
        if (this.down) {
          await this.hooks.probe();
          this.down = false;
          this.hooks.onConnection({ ok: true, retryAt: null });
        }
        const answer = await this.hooks.pget(this.pgetCtl.signal);
        if (!this.running) return;
        this.failures = 0; // only a P-GET that worked resets the back-off
        await this.hooks.onAnswer(answer);
        continue;
      } catch (e) {
        if (!this.running) return;
        if (this.kicked) {
          this.kicked = false;
          continue;
        }
        if (e instanceof AuthError) {
          this.running = false;
          this.hooks.onAuthLost(e);
          return;
        }
        if (e instanceof ApplicationGone || e instanceof PGetReplaced) {
          try {
            await this.hooks.recover(e);
            continue;
          } catch (inner) {
            if (inner instanceof AuthError) {
              this.running = false;
              this.hooks.onAuthLost(inner);
              return;
            }
            e = inner;
          }
        }
        this.failures += 1;
        this.down = true;
        const delay = backoffDelay(this.failures);
        this.hooks.onConnection({
          ok: false,
          retryAt: this.now() + delay,
          error: String((e as Error)?.message ?? e),
        });
        this.sleepCtl = new AbortController();
        await this.sleep(delay, this.sleepCtl.signal);
        this.kicked = false;
      }
    }
  }
}
