/**
 * The flags of the rate limit and TLS: defaults, the off switch, and readable refusals.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseServerArgs } from '../../src/io/config.js';

const config = (argv: string[]) => {
  const parsed = parseServerArgs(argv, 'chat', {});
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.config;
};

describe('rate limit flags', () => {
  it('default to 20 lines a second in bursts of 40, and a 30 s flood cap', () => {
    expect(config([])).toMatchObject({ rateLimitPerSecond: 20, rateLimitBurst: 40, maxFloodMs: 30_000 });
    expect(DEFAULTS.rateLimitPerSecond).toBe(20);
  });

  it('take --rate-limit 0 as no limit, and fractions of a line a second', () => {
    expect(config(['--rate-limit', '0']).rateLimitPerSecond).toBe(0);
    expect(config(['--rate-limit', '0.5', '--rate-burst', '3'])).toMatchObject({ rateLimitPerSecond: 0.5, rateLimitBurst: 3 });
  });

  it.each([
    [['--rate-limit=-1'], /--rate-limit must be a number from 0/],
    [['--rate-limit', 'lots'], /--rate-limit must be a number/],
    [['--rate-burst', '0'], /--rate-burst must be a number from 1/],
    [['--rate-burst', '2.5'], /--rate-burst must be a whole number/],
  ])('refuse %j with a reason', (argv, message) => {
    expect(() => config(argv)).toThrow(message);
  });

  it('are not echo-server flags', () => {
    expect(() => parseServerArgs(['--rate-limit', '5'], 'echo', {})).toThrow(/Unknown option '--rate-limit'/);
  });
});

describe('TLS flags', () => {
  it('are off by default, and taken together for the chat and the echo server', () => {
    expect(config([]).tls).toBeUndefined();
    const echo = parseServerArgs(['--tls-cert', 'c.pem', '--tls-key', 'k.pem'], 'echo', {});
    expect(echo.help === false && echo.config.tls).toEqual({ certFile: 'c.pem', keyFile: 'k.pem' });
  });
});
