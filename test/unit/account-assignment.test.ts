import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rankAccounts } from '../../shared/domain/kite/account-assignment.js';

describe('rankAccounts', () => {
  it('gives the same order for the same token and accounts, whatever order the accounts come in', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 6 }),
        (token, ids) => {
          const ranked = rankAccounts(token, ids);
          expect(rankAccounts(token, [...ids].reverse())).toEqual(ranked);
          expect([...ranked].sort()).toEqual([...ids].sort());
        },
      ),
    );
  });

  it('spreads tokens evenly: 1500 tokens over 3 accounts land within 10 % of 500 each', () => {
    const counts = new Map<string, number>();
    for (let token = 10_000; token < 11_500; token++) {
      const first = rankAccounts(token, ['primary', 'secondary', 'tertiary'])[0] ?? '';
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    for (const count of counts.values()) expect(Math.abs(count - 500)).toBeLessThan(50);
  });

  it('moves only the removed account’s tokens when an account goes away', () => {
    const before = new Map<number, string>();
    for (let token = 1; token <= 3000; token++) before.set(token, rankAccounts(token, ['a', 'b', 'c'])[0] ?? '');
    for (const [token, account] of before) {
      const after = rankAccounts(token, ['a', 'b'])[0];
      if (account !== 'c') expect(after).toBe(account);
    }
  });
});

describe('rankAccounts across releases and ties', () => {
  it('keeps the assignments of known tokens: a changed hash would move every live subscription on deploy', () => {
    const accounts = ['primary', 'secondary', 'tertiary'];
    expect(rankAccounts(1, accounts)).toEqual(['tertiary', 'primary', 'secondary']);
    expect(rankAccounts(256265, accounts)).toEqual(['secondary', 'primary', 'tertiary']);
    expect(rankAccounts(260105, accounts)).toEqual(['tertiary', 'secondary', 'primary']);
    expect(rankAccounts(12345678, accounts)).toEqual(['primary', 'tertiary', 'secondary']);
  });

  it('ranks accounts whose weights tie by id, whichever order they are listed in', () => {
    // For token 256265 these three ids hash to the same 32-bit weight (found by search).
    const tied = ['acct-3988945', 'acct-8224282', 'acct-11604688'];
    const byId = ['acct-11604688', 'acct-3988945', 'acct-8224282'];
    for (const order of [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ]) {
      expect(
        rankAccounts(
          256265,
          order.map((i) => tied[i] ?? ''),
        ),
      ).toEqual(byId);
    }
  });
});
