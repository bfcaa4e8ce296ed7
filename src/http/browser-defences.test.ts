import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config.ts';
import { originAllowList } from './browser-defences.ts';

describe('originAllowList', () => {
  it('allows loopback origins on any port outside production, and nothing else', () => {
    const allowed = originAllowList({ NODE_ENV: 'development', CORS_ORIGINS: undefined });
    for (const origin of ['http://localhost:4000', 'http://127.0.0.1:5173', 'http://[::1]:3000'])
      expect(allowed(origin), origin).toBe(true);
    for (const origin of ['https://evil.example', 'http://localhost.evil.example', 'null', 'file://'])
      expect(allowed(origin), origin).toBe(false);
  });

  it('allows nothing by default in production, and exactly the listed origins when set', () => {
    expect(
      originAllowList({ NODE_ENV: 'production', CORS_ORIGINS: undefined })('http://localhost:4000'),
    ).toBe(false);
    const listed = originAllowList({ NODE_ENV: 'development', CORS_ORIGINS: ['https://app.example'] });
    expect(listed('https://app.example')).toBe(true);
    expect(listed('https://app.example:8443')).toBe(false);
    expect(listed('http://localhost:4000')).toBe(false);
  });

  it('CORS_ORIGINS takes exact origins and refuses * and paths', () => {
    expect(parseConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).CORS_ORIGINS).toEqual([
      'https://a.example',
      'http://localhost:3000',
    ]);
    for (const bad of ['*', 'https://a.example/app', 'a.example'])
      expect(() => parseConfig({ CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
  });
});
