/** The sandbox's view: change lines when not on a terminal, an in-place table on one. */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm } from '../../../src/api/index.js';
import { elapsed, eventLine, LiveView } from '../../../src/sandbox/view.js';

const hsm = (reason: string, status = 'False', ip?: string): DedicatedHsm =>
  ({
    apiVersion: 'dedicatedhsm.io/v1alpha1',
    kind: 'DedicatedHsm',
    metadata: { name: 'hsm-eastus-1', namespace: 'ns', generation: 1 },
    spec: { azure: { stampId: 'stamp1' } },
    status: { observedGeneration: 1, ...(ip ? { privateIpAddress: ip } : {}), conditions: [{ type: 'Ready', status, reason, message: `because ${reason}`, lastTransitionTime: '2024-01-01T00:00:00Z' }] },
  }) as unknown as DedicatedHsm;

function sink(columns = 100) {
  const chunks: string[] = [];
  return { out: { write: (t: string) => chunks.push(t), columns }, text: () => chunks.join(''), chunks };
}

describe('LiveView', () => {
  it('prints one stamped line per change, none for repeats', () => {
    let now = 1_000;
    const s = sink();
    const v = new LiveView({ out: s.out, tty: false, startedAt: 0, now: () => now });
    v.update([hsm('WaitingForGateway')]);
    v.update([hsm('WaitingForGateway')]);
    now = 12_500;
    v.update([hsm('Ready', 'True', '10.0.2.4')]);
    v.say('a story line');
    expect(s.text().split('\n').filter(Boolean)).toEqual([
      '   +1.0s  DedicatedHsm/hsm-eastus-1  Ready=False WaitingForGateway  provisioning=- ip=- stamp=stamp1 - because WaitingForGateway',
      '  +12.5s  DedicatedHsm/hsm-eastus-1  Ready=True Ready  provisioning=- ip=10.0.2.4 stamp=stamp1',
      '  +12.5s  a story line',
    ]);
  });

  it('on a terminal, redraws the table in place and keeps story lines above it', () => {
    const s = sink();
    const v = new LiveView({ out: s.out, tty: true, startedAt: 0, now: () => 0 });
    v.update([hsm('WaitingForGateway')]);
    const first = s.text();
    expect(first).toContain('KIND/NAME');
    expect(first).not.toContain('\x1b[');
    const tableLines = first.split('\n').length - 1;
    v.say('story');
    // Erases exactly the table it drew, prints the line, draws the table again.
    expect(s.chunks[s.chunks.length - 2 - tableLines]).toBe(`\x1b[${tableLines}F\x1b[0J`);
    expect(s.text().indexOf('story')).toBeGreaterThan(first.length);
    v.close();
    const before = s.chunks.length;
    v.update([hsm('Ready', 'True')]);
    expect(s.chunks.length).toBe(before);
  });

  it('names the namespace in the table once the resources live in two (the platform team\'s and an app team\'s)', () => {
    const v = new LiveView({ out: sink().out, tty: false, startedAt: 0, now: () => 0 });
    v.update([hsm('Ready', 'True')]);
    expect(v.table()[0]).toMatch(/^KIND\/NAME/);
    const other = hsm('Ready', 'True');
    other.metadata = { ...other.metadata, name: 'hsm-eastus-2', namespace: 'hsm-app-a' };
    v.update([hsm('Ready', 'True'), other]);
    const table = v.table();
    expect(table[0]).toMatch(/^NAMESPACE\s+KIND\/NAME/);
    expect(table.some((l) => /^hsm-app-a\s+DedicatedHsm\/hsm-eastus-2/.test(l))).toBe(true);
    expect(table.some((l) => /^ns\s+DedicatedHsm\/hsm-eastus-1/.test(l))).toBe(true);
  });

  it('formats time and events', () => {
    expect(elapsed(3_200)).toBe('+3.2s');
    expect(elapsed(125_000)).toBe('+2m05s');
    expect(eventLine({ type: 'Warning', reason: 'DeploymentRace', note: 'failed\non the race', regarding: { kind: 'DedicatedHsm', name: 'h' } })).toBe(
      'event DedicatedHsm/h: Warning DeploymentRace - failed on the race',
    );
  });
});
