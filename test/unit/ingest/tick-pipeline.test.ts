import { describe, expect, it } from 'vitest';
import { TickPipeline } from '../../../ingest-task/pipeline/tick-pipeline.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import type { MarketTick } from '../../../shared/contracts/tick.js';
import { MOCK_UNDERLYINGS, mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { createLogger } from '../../../shared/logging.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { Channels, messageText } from '../../../shared/ports/tick-bus.js';

/*
 * The pipeline prepares an option on its first tick, not for every row of the instrument master;
 * these tests hold what that must not change: the texts come from the master in force, each
 * underlying's options go to its own channel, and unknown or unusable instruments are counted.
 */

const clock = new ManualClock();
const silent = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const instruments = mockInstruments({ anchorDate: '2025-01-08', strikesEachSide: 3 });
const optionOf = (name: string) => instruments.find((i) => i.name === name && i.instrumentType === 'CE') as Instrument;

function tick(token: number, lastPrice: number): MarketTick {
  return { instrumentToken: token, mode: 'full', tradable: true, lastPrice, receivedAtMs: clock.now() };
}

function rig(master: readonly Instrument[]) {
  const out: { channel: string; token: number; json: Record<string, unknown> }[] = [];
  const pipeline = new TickPipeline({
    instruments: master,
    pricing: { model: 'black-scholes', rate: 0.1, dividendYield: 0 },
    sink: {
      enqueue: (channel, token, encoded) => out.push({ channel, token, json: JSON.parse(messageText(encoded)) }),
    },
    clock,
    logger: silent,
    isMock: () => false,
  });
  return { pipeline, out };
}

describe('tick pipeline', () => {
  it("sends each underlying's options to its own channel with that underlying's fields", () => {
    const { pipeline, out } = rig(instruments);
    const nifty = optionOf('NIFTY');
    const bank = optionOf('BANKNIFTY');
    pipeline.handle([
      tick(MOCK_UNDERLYINGS.NIFTY.indexToken, MOCK_UNDERLYINGS.NIFTY.spot),
      tick(MOCK_UNDERLYINGS.BANKNIFTY.indexToken, MOCK_UNDERLYINGS.BANKNIFTY.spot),
      tick(nifty.instrumentToken, 120),
      tick(bank.instrumentToken, 300),
      tick(nifty.instrumentToken, 121),
    ]);
    expect(out.map((o) => [o.channel, o.token, o.json.underlying, o.json.last_price])).toEqual([
      [Channels.options('NIFTY'), nifty.instrumentToken, 'NIFTY', 120],
      [Channels.options('BANKNIFTY'), bank.instrumentToken, 'BANKNIFTY', 300],
      [Channels.options('NIFTY'), nifty.instrumentToken, 'NIFTY', 121],
    ]);
    expect(out[0]?.json).toMatchObject({
      tradingsymbol: nifty.tradingsymbol,
      strike: nifty.strike,
      expiry: nifty.expiry,
    });
    expect(out[2]?.json.underlying_price).toBe(MOCK_UNDERLYINGS.NIFTY.spot);
  });

  it('counts unknown tokens apart from errors, and every tick of an option it cannot price as an error', () => {
    const option = optionOf('NIFTY');
    const broken: Instrument = { ...option, instrumentToken: 99_999 * 256 + 2, expiry: 'not-a-date' };
    const { pipeline, out } = rig([...instruments, broken]);
    pipeline.handle([tick(424_242, 1), tick(broken.instrumentToken, 10), tick(option.instrumentToken, 120)]);
    pipeline.handle([tick(424_242, 1), tick(broken.instrumentToken, 11)]);
    expect(pipeline.counters).toMatchObject({ ticksIn: 5, unknownInstrument: 2, errors: 2, optionTicks: 1 });
    expect(out.map((o) => o.token)).toEqual([option.instrumentToken]);
  });
});
