import { describe, expect, it } from 'vitest';
import { routeOf } from './metrics.ts';

describe('routeOf', () => {
  it('labels our routes by path, routes with ids by their prefix, and anything else as other', () => {
    expect(routeOf('/graphql?x=1')).toBe('/graphql');
    expect(routeOf('/v1/chat/completions')).toBe('/v1/chat/completions');
    expect(routeOf('/v1/models')).toBe('/v1/models');
    expect(routeOf('/app/assets/index-abc.js')).toBe('/app');
    expect(routeOf('/modal/callbacks/3f2a')).toBe('/modal/callbacks');
    // no raw URL becomes a label: the series stay bounded
    expect(routeOf('/application')).toBe('other');
    expect(routeOf('/v1/models/../../etc')).toBe('other');
    expect(routeOf(undefined)).toBe('other');
  });
});
