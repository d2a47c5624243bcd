import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_LEASE_TIMING, KubeClient, LeaderElector, managerOptions, parseBindAddress, parseDuration, parseRuntimeConfig, runtimeHelp, silentLogger, validLeaseTiming } from '../../../src/runtime/index.js';
import { FakeApi } from './fake-api.js';

describe('runtime config', () => {
  it('has controller-runtime-like defaults', () => {
    const { config, help } = parseRuntimeConfig([], {});
    expect(help).toBe(false);
    expect(config).toMatchObject({
      namespaces: [],
      concurrency: { default: 1, byController: {} },
      watchIdleTimeoutMs: 300_000,
      relistIntervalMs: 1_800_000,
      resyncIntervalMs: 3_600_000,
      metricsBindAddress: ':8080',
      healthProbeBindAddress: ':8081',
      logLevel: 'info',
      shutdownTimeoutMs: 30_000,
      inCluster: false,
      leaderElection: { enabled: true, name: 'hsm-operator-leader', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
    });
    expect(config.leaderElection.identity).toMatch(/_[0-9a-f]{8}$/);
  });

  it('takes flags over environment over defaults', () => {
    const env = { HSM_OPERATOR_NAMESPACES: 'a,b', POD_NAMESPACE: 'ops', POD_NAME: 'op-0', KUBERNETES_SERVICE_HOST: '10.0.0.1', LOG_LEVEL: 'debug' };
    const { config } = parseRuntimeConfig(['--namespaces', 'c', '--concurrency', '2,DedicatedHsm=4', '--no-leader-elect', '--watch-idle-timeout=90s', '--metrics-bind-address', '127.0.0.1:0'], env);
    expect(config.namespaces).toEqual(['c']);
    expect(config.concurrency).toEqual({ default: 2, byController: { DedicatedHsm: 4 } });
    expect(config.leaderElection).toMatchObject({ enabled: false, namespace: 'ops', identity: 'op-0' });
    expect(config.watchIdleTimeoutMs).toBe(90_000);
    expect(config.metricsBindAddress).toBe('127.0.0.1:0');
    expect(config.logLevel).toBe('debug');
    expect(config.inCluster).toBe(true);
    expect(parseRuntimeConfig(['--kubeconfig', '/tmp/kc'], env).config.inCluster).toBe(false);
  });

  it('rejects bad input with a ConfigError naming the flag', () => {
    expect(() => parseRuntimeConfig(['--bogus'], {})).toThrow(ConfigError);
    expect(() => parseRuntimeConfig(['--resync-interval', '5 minutes'], {})).toThrow(/--resync-interval/);
    expect(() => parseRuntimeConfig(['--concurrency', '0'], {})).toThrow(/concurrency/);
    expect(() => parseRuntimeConfig(['--renew-deadline', '20s'], {})).toThrow(/lease-duration/);
    expect(() => parseRuntimeConfig(['--log-level', 'loud'], {})).toThrow(/log-level/);
    expect(() => parseRuntimeConfig(['--health-probe-bind-address', 'nope'], {})).toThrow(/health-probe-bind-address/);
    expect(() => parseRuntimeConfig(['extra'], {})).toThrow(ConfigError);
    expect(parseRuntimeConfig(['sandbox'], {}, { allowPositionals: true }).positionals).toEqual(['sandbox']);
  });

  it('parses durations and bind addresses', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('15')).toBe(15_000);
    expect(parseBindAddress(':8080')).toEqual({ host: undefined, port: 8080 });
    expect(parseBindAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseBindAddress('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseBindAddress('0')).toBeUndefined();
  });

  it('prints help for every flag', () => {
    const { help } = parseRuntimeConfig(['--help'], {});
    expect(help).toBe(true);
    const text = runtimeHelp();
    for (const flag of ['--kubeconfig', '--namespaces', '--concurrency', '--leader-elect', '--metrics-bind-address', '--health-probe-bind-address', '--log-level', '--watch-idle-timeout']) expect(text).toContain(flag);
  });
});

describe('leader-election options: one declaration, one set of defaults', () => {
  it('the flags default to the elector\'s timing and say so in --help', () => {
    const { config } = parseRuntimeConfig([], {});
    expect(config.leaderElection).toMatchObject({ ...DEFAULT_LEASE_TIMING });
    expect(DEFAULT_LEASE_TIMING).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    const help = runtimeHelp();
    for (const [flag, value] of [['--lease-duration', '15s'], ['--renew-deadline', '10s'], ['--retry-period', '2s']]) expect(help).toMatch(new RegExp(`${flag}[^\\n]*\\(default ${value}[;)]`));
  });

  it('the flags and the elector refuse the same timings', () => {
    expect(validLeaseTiming(DEFAULT_LEASE_TIMING)).toBe(true);
    for (const bad of [{ renewDeadlineMs: 15_000 }, { retryPeriodMs: 10_000 }, { retryPeriodMs: 0 }]) {
      const t = { ...DEFAULT_LEASE_TIMING, ...bad };
      expect(validLeaseTiming(t), JSON.stringify(bad)).toBe(false);
      expect(() => new LeaderElector({ client: new KubeClient(new FakeApi()), namespace: 'ns', name: 'l', identity: 'me', ...t })).toThrow(/leaseDuration > renewDeadline > retryPeriod > 0/);
      const flags = ['--lease-duration', `${t.leaseDurationMs}ms`, '--renew-deadline', `${t.renewDeadlineMs}ms`, '--retry-period', `${t.retryPeriodMs}ms`];
      expect(() => parseRuntimeConfig(flags, {}), JSON.stringify(bad)).toThrow('leader election needs --lease-duration > --renew-deadline > --retry-period > 0');
    }
    expect(() => new LeaderElector({ client: new KubeClient(new FakeApi()), namespace: 'ns', name: 'l', identity: 'me' })).not.toThrow();
  });

  it('reach the Manager as the elector\'s options, or false when off', () => {
    const { config } = parseRuntimeConfig(['--lease-duration', '20s', '--leader-election-namespace', 'ops', '--leader-election-identity', 'op-0'], {});
    const client = new KubeClient(new FakeApi());
    const on = managerOptions(config, { client, log: silentLogger });
    expect(on.leaderElection).toEqual({ namespace: 'ops', name: 'hsm-operator-leader', identity: 'op-0', leaseDurationMs: 20_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    expect(on.instance).toBe('op-0');
    expect(on.kubeConfig).toBeUndefined();
    const off = managerOptions(parseRuntimeConfig(['--no-leader-elect'], {}).config, { client, log: silentLogger });
    expect(off.leaderElection).toBe(false);
  });
});
