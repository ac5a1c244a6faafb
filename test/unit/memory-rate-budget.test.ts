import { MemoryRateBudget } from '../../shared/adapters/memory/memory-rate-budget.js';
import { CONTRACT_BUDGETS, rateBudgetContract } from '../support/rate-budget-contract.js';

rateBudgetContract('memory', () => {
  let budget: MemoryRateBudget | undefined;
  return {
    // One process: both handles are the same budget.
    open: async (clock) => {
      budget ??= new MemoryRateBudget({ budgets: CONTRACT_BUDGETS, clock });
      return budget;
    },
  };
});
