import { describe, expect, it } from 'vitest';
import { InstrumentRegistry } from '../../../functions/api/instrument-registry.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';

const instruments = mockInstruments({ anchorDate: '2025-01-06', strikesEachSide: 1 });

describe('InstrumentRegistry', () => {
  it('loads once and serves every request from the cached copy until it is an hour old', async () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 8, 5, 0, 0));
    let loads = 0;
    const registry = new InstrumentRegistry({
      load: async () => {
        loads++;
        return instruments;
      },
      clock,
      source: 'mock',
    });
    await Promise.all([registry.all(), registry.get(256_265), registry.all()]);
    expect(loads).toBe(1);
    expect((await registry.get(256_265))?.tradingsymbol).toBe('NIFTY 50');
    const option = instruments.find((i) => i.instrumentType === 'CE' && i.name === 'BANKNIFTY');
    if (option === undefined) throw new Error('no BANKNIFTY option in the registry');
    expect((await registry.underlyingOf(option))?.instrumentToken).toBe(260_105);
    clock.advance(61 * 60_000);
    await registry.all();
    await new Promise((resolve) => setImmediate(resolve));
    expect(loads).toBe(2);
  });

  it('serves the last good copy when a reload fails and reports it stale; with no copy it is unavailable', async () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 8, 5, 0, 0));
    let fail = false;
    const registry = new InstrumentRegistry({
      load: async () => {
        if (fail) throw new Error('master download failed');
        return instruments;
      },
      clock,
      source: 'kite',
    });
    expect(await registry.status()).toMatchObject({ status: 'ok', source: 'kite', instruments: instruments.length });
    fail = true;
    clock.advance(2 * 3_600_000);
    expect(await registry.get(256_265)).toBeDefined();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await registry.status()).toMatchObject({ status: 'stale', error: 'master download failed' });

    const empty = new InstrumentRegistry({ load: () => Promise.reject(new Error('down')), clock, source: 'kite' });
    await expect(empty.all()).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(await empty.status()).toMatchObject({ status: 'unavailable', instruments: 0, loaded_at: null });
  });
});
