import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { extractiveAnswer } from '../adapters/local/chat-model.extractive.ts';
import { tenantRelative } from '../documents/chunk-text-loader.ts';
import { newMessageId, sessionOfMessage, summarize, titleFrom } from './chat-records.ts';
import { bioText } from './prompt.ts';
import { formatForTraining, trainingFiles } from './training-files.ts';

describe('chat message ids', () => {
  it('name their session, and nothing else parses as one', () => {
    const sessionId = randomUUID();
    const id = newMessageId(sessionId);
    expect(id).not.toContain(':'); // doubles as a BullMQ job id
    expect(sessionOfMessage(id)).toBe(sessionId);
    expect(sessionOfMessage(sessionId)).toBeNull();
    expect(sessionOfMessage(`${sessionId}.`)).toBeNull();
    expect(sessionOfMessage('not-a-uuid.abcdefgh')).toBeNull();
    expect(sessionOfMessage(`${sessionId}.abc/../x`)).toBeNull();
  });
});

describe('transcript helpers', () => {
  it('titles a session from the first line of a message, clipped', () => {
    expect(titleFrom('  Where did I\n grow up?')).toBe('Where did I');
    expect(titleFrom('x'.repeat(200))).toHaveLength(80);
  });

  it("summarizes the user's questions only", () => {
    const summary = summarize([
      { id: '1', role: 'user', content: 'boats?', createTime: '' },
      { id: '2', role: 'assistant', content: 'many boats', createTime: '' },
      { id: '3', role: 'user', content: 'trains?', createTime: '' },
    ]);
    expect(summary).toBe('Asked about: boats?; trains?');
    expect(summarize([])).toBeNull();
  });

  it('turns a transcript into one training file per answered exchange, numbered by reply', () => {
    const files = trainingFiles({
      sessionId: 's',
      title: null,
      summary: null,
      createTime: '',
      updateTime: '',
      messages: [
        { id: 'u0', role: 'user', content: 'boats?', createTime: '' },
        { id: 'a0', role: 'assistant', content: 'many', createTime: '', replyTo: 'u0', status: 'complete' },
        { id: 'u1', role: 'user', content: 'trains?', createTime: '' },
        { id: 'a1', role: 'assistant', content: '', createTime: '', replyTo: 'u1', status: 'failed' },
        { id: 'u2', role: 'user', content: 'planes?', createTime: '' },
        { id: 'a2', role: 'assistant', content: 'some', createTime: '', replyTo: 'u2', status: 'cancelled' },
      ],
    });
    expect(files).toEqual([
      { key: 'chats/s/processed/chat_0.txt', text: 'user: boats?\nassistant: many\n' },
      { key: 'chats/s/processed/chat_2.txt', text: 'user: planes?\nassistant: some\n' },
    ]);
  });

  it('formats an exchange for training', () => {
    const text = formatForTraining({
      user: { id: '1', role: 'user', content: ' Hi ', createTime: '' },
      assistant: { id: '2', role: 'assistant', content: 'Hello. ', createTime: '' },
    });
    expect(text).toBe('user: Hi\nassistant: Hello.\n');
  });
});

describe('retrieval and persona helpers', () => {
  it('keeps chunk pointers inside the caller tenant', () => {
    expect(tenantRelative('u1', 'chunks/d/chunk_0.txt')).toBe('chunks/d/chunk_0.txt');
    expect(tenantRelative('u1', 'tenant/u1/chunks/d/chunk_0.txt')).toBe('chunks/d/chunk_0.txt');
    expect(() => tenantRelative('u1', 'tenant/u2/chunks/d/chunk_0.txt')).toThrow();
  });

  it('reads the biography from the shapes L1 writes', () => {
    expect(bioText({ secondPerson: 'You sail.', thirdPerson: 'They sail.' })).toBe('You sail.');
    expect(bioText({ bio: { content: 'Nested.' } })).toBe('Nested.');
    expect(bioText('Plain.')).toBe('Plain.');
    expect(bioText({ other: 1 })).toBeNull();
  });

  it('quotes the best passages when there is no model, and says so', () => {
    const text = extractiveAnswer({
      passages: [
        { n: 1, text: 'low', score: 0.1 },
        { n: 2, text: 'high', score: 0.9 },
      ],
    });
    expect(text).toMatch(/^No chat model is configured/);
    expect(text.indexOf('[2] high')).toBeLessThan(text.indexOf('[1] low'));
    expect(extractiveAnswer({ passages: [] })).toMatch(/nothing in your memory matches/);
  });
});
