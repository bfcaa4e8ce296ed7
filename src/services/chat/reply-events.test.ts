import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EventBus } from '../ports/event-bus.ts';
import type { ReplyEvent } from '../ports/events.ts';
import { DeltaCoalescer, ReplyPublisher } from './reply-events.ts';

// The coalescing window on a fake clock: what goes out, when, and under which index.

function recorder() {
  const sent: { at: number; event: ReplyEvent }[] = [];
  const bus = {
    publish: async (_topic: string, _id: string, event: ReplyEvent) => {
      sent.push({ at: performance.now(), event });
      return sent.length;
    },
  } as unknown as EventBus;
  const tokens = () =>
    sent.flatMap(({ at, event }) =>
      event.type === 'token' ? [{ at, text: event.text, index: event.index }] : [],
    );
  return { publisher: new ReplyPublisher(bus, 'm'), tokens };
}

describe('DeltaCoalescer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the first token at once and the ones within the window as one delta, indexed by its first', () => {
    const { publisher, tokens } = recorder();
    const deltas = new DeltaCoalescer(publisher, 40);
    const t0 = performance.now();
    deltas.push('a', 0);
    expect(tokens()).toEqual([{ at: t0, text: 'a', index: 0 }]);
    vi.advanceTimersByTime(10);
    deltas.push('b', 1);
    vi.advanceTimersByTime(10);
    deltas.push('c', 2);
    expect(tokens()).toHaveLength(1); // held until the window since the last delta ends
    vi.advanceTimersByTime(20);
    expect(tokens().at(-1)).toEqual({ at: t0 + 40, text: 'bc', index: 1 });
    // a token after a quiet window goes out at once again
    vi.advanceTimersByTime(100);
    deltas.push('d', 3);
    expect(tokens().at(-1)).toEqual({ at: t0 + 140, text: 'd', index: 3 });
    deltas.push('e', 4);
    deltas.flush();
    expect(
      tokens()
        .map((t) => t.text)
        .join(''),
    ).toBe('abcde');
    expect(tokens().at(-1)).toMatchObject({ text: 'e', index: 4 });
  });

  it('never ends a delta inside a surrogate pair, except at the very end', () => {
    const { publisher, tokens } = recorder();
    const deltas = new DeltaCoalescer(publisher, 40);
    deltas.push(' \ud83d', 0); // the first half of 😀: held although nothing was sent yet
    expect(tokens()).toEqual([]);
    deltas.push('\ude00', 1);
    expect(tokens()).toMatchObject([{ text: ' 😀', index: 0 }]);
    vi.advanceTimersByTime(5);
    deltas.push('x\ud83c', 2);
    vi.advanceTimersByTime(100); // the window passes: still held, it would split 🎉
    expect(tokens()).toHaveLength(1);
    deltas.push('\udf89', 3);
    expect(tokens().at(-1)).toMatchObject({ text: 'x🎉', index: 2 });
    deltas.push('\ud83d', 4);
    deltas.flush(); // the reply ends there: what was received is sent, half a character included
    expect(tokens().at(-1)).toMatchObject({ text: '\ud83d', index: 4 });
  });

  it('with a window of 0 sends every token as it comes', () => {
    const { publisher, tokens } = recorder();
    const deltas = new DeltaCoalescer(publisher, 0);
    for (const [i, t] of ['x', 'y', 'z'].entries()) deltas.push(t, i);
    expect(tokens().map((t) => [t.text, t.index])).toEqual([
      ['x', 0],
      ['y', 1],
      ['z', 2],
    ]);
  });
});
