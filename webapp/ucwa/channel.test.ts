import { describe, expect, it } from "vitest";
import { EventChannel, backoffDelay, type ChannelHooks } from "./channel";
import { ApplicationGone, AuthError, NetworkError } from "./errors";
import type { ChannelAnswer } from "./events";

const page = (n: number): ChannelAnswer => ({
  kind: "events",
  next: `e?ack=${n}`,
  resume: false,
  events: [],
});

function harness(script: (() => ChannelAnswer)[]) {
  const log: string[] = [];
  const delays: number[] = [];
  let channel!: EventChannel;
  const hooks: ChannelHooks = {
    async pget() {
      const step = script.shift();
      if (!step) {
        channel.stop();
        throw new NetworkError("done");
      }
      return step();
    },
    async probe() {
      // The server is as reachable for the probe as for the next P-GET.
      try {
        script[0]?.();
      } catch (e) {
        script.shift();
        throw e;
      }
      log.push("probe");
    },
    onAnswer(a) {
      log.push(a.kind === "events" ? a.next : "resync");
    },
    async recover(e) {
      log.push(`recover:${e.name}`);
    },
    onAuthLost() {
      log.push("auth-lost");
    },
    onConnection(c) {
      log.push(c.ok ? "ok" : "down");
    },
  };
  channel = new EventChannel(
    hooks,
    async (ms) => void delays.push(ms),
    () => 0,
  );
  return { channel, log, delays };
}

describe("EventChannel", () => {
  it("backs off on failures, then says it is back after a probe", async () => {
    const fail = () => {
      throw new NetworkError("down");
    };
    const { channel, log, delays } = harness([fail, fail, fail, () => page(2), () => page(3)]);
    await channel.start();
    expect(log).toEqual(["down", "down", "down", "probe", "ok", "e?ack=2", "e?ack=3"]);
    expect(delays).toHaveLength(3);
    expect(delays[0]).toBeGreaterThanOrEqual(800);
    expect(delays[1]).toBeGreaterThan(delays[0]);
    expect(delays[2]).toBeGreaterThan(delays[1]);
  });

  it("recreates a gone application and stops for a refused token", async () => {
    const { channel, log } = harness([
      () => {
        throw new ApplicationGone("gone", 404);
      },
      () => page(1),
      () => {
        throw new AuthError("expired", 401);
      },
    ]);
    await channel.start();
    expect(log).toEqual(["recover:ApplicationGone", "e?ack=1", "auth-lost"]);
    expect(channel.isRunning).toBe(false);
  });

  it("kick re-asks at once without counting a failure", async () => {
    const log: string[] = [];
    let calls = 0;
    let channel!: EventChannel;
    channel = new EventChannel(
      {
        pget: (signal) =>
          new Promise((resolve, reject) => {
            calls += 1;
            if (calls === 1)
              signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
            else if (calls === 2) resolve(page(7));
            else channel.stop();
          }),
        probe: async () => undefined,
        onAnswer: (a) => void log.push(a.kind === "events" ? a.next : "resync"),
        recover: async () => undefined,
        onAuthLost: () => undefined,
        onConnection: (c) => void log.push(c.ok ? "ok" : "down"),
      },
      async () => undefined,
    );
    const done = channel.start();
    await new Promise((r) => setTimeout(r, 0));
    channel.kick();
    await Promise.race([done, new Promise((r) => setTimeout(r, 50))]);
    channel.stop();
    expect(log).toEqual(["e?ack=7"]);
    expect(channel.failures).toBe(0);
  });

  it("never retries faster than a second, and caps at half a minute", () => {
    expect(backoffDelay(1, () => 0)).toBe(800);
    expect(backoffDelay(20, () => 1)).toBe(36_000);
    expect(backoffDelay(6, () => 0.5)).toBe(30_000);
  });
});
