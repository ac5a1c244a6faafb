import { UNFINISHED_STATUSES } from '../../shared/domain/orders/stale-orders.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { OrderQueue, OrderStore } from '../../shared/ports/orders.js';

/** What the sweeper needs; the composition root (or a test) hands it over. */
export interface OrderSweeperDependencies {
  readonly orders: Pick<OrderStore, 'listStale' | 'touch'>;
  readonly queue: Pick<OrderQueue, 'enqueue'>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long an unfinished record may go unchanged before its message counts as lost (`staleAfterSeconds`). */
  readonly staleAfterSeconds: number;
  /** Records read per store call (default 100). */
  readonly pageSize?: number;
  /** Records requeued per sweep at most (default 1000): a flood is spread over several sweeps. */
  readonly maxPerSweep?: number;
}

/** What one sweep did. */
export interface SweepResult {
  /** Tasks sent to the queue again. */
  readonly requeued: number;
  /** Stale records a worker (or another sweeper) changed between the read and the claim: left alone. */
  readonly skipped: number;
  /** Claimed tasks the queue refused: they are tried again a window later. */
  readonly failed: number;
}

/**
 * Finds order tasks whose queue message is gone and queues them again (the use case behind
 * `functions/order-sweeper` and the local platform's sweep service). A message is lost when a
 * process dies between writing the record and sending (a producer, or `POST /orders`), when a
 * queue loses it, or when it expires; its record then stays PENDING, RUNNING or RETRYING for good.
 *
 * A record unchanged for longer than `staleAfterSeconds` is claimed with a conditional `touch` (its
 * status and `updatedAt` still as read), then its task is enqueued unchanged: the same `task_id`
 * and `idempotency_key`, so the worker's idempotency and conditional transitions place it at most
 * once even when the old message was alive after all. Claiming before enqueueing means a worker's
 * progress since the read, or a second sweeper, wins and nothing is sent; the new `updatedAt`
 * makes the next sweeps wait another window before they requeue it again.
 */
export class OrderSweeper {
  readonly #deps: OrderSweeperDependencies;
  #totals = { requeued: 0, skipped: 0, failed: 0 };

  constructor(deps: OrderSweeperDependencies) {
    if (!(deps.staleAfterSeconds > 0)) throw new RangeError('staleAfterSeconds must be positive');
    this.#deps = deps;
  }

  /** Everything this sweeper did since it was built. */
  get totals(): SweepResult {
    return { ...this.#totals };
  }

  /** One sweep; rejects only when the store cannot be read. */
  async sweep(): Promise<SweepResult> {
    const { orders, queue, clock, logger } = this.#deps;
    const pageSize = this.#deps.pageSize ?? 100;
    const maxPerSweep = this.#deps.maxPerSweep ?? 1000;
    const updatedBefore = clock.now() - this.#deps.staleAfterSeconds * 1000;
    const seen = new Set<string>();
    let requeued = 0;
    let skipped = 0;
    let failed = 0;
    for (;;) {
      const page = await orders.listStale({ statuses: UNFINISHED_STATUSES, updatedBefore, limit: pageSize });
      // A claimed record leaves the list; the index may still show it for a moment: read it once.
      const fresh = page.filter((record) => !seen.has(record.task.task_id));
      for (const record of fresh) {
        const taskId = record.task.task_id;
        seen.add(taskId);
        const claimed = await orders.touch(taskId, { status: record.status, updatedAt: record.updatedAt }, clock.now());
        if (!claimed) {
          skipped++;
          continue;
        }
        try {
          // A poison message's record sends its own body: its task is a stand-in never to be placed.
          if (record.rawBody === undefined) await queue.enqueue(record.task);
          else await queue.enqueue(record.task, { body: record.rawBody });
        } catch (error) {
          failed++;
          logger.error('Order sweeper could not requeue a stranded task; trying again next window', {
            taskId,
            status: record.status,
            error: describeError(error),
          });
          continue;
        }
        requeued++;
        logger.warn('Order sweeper requeued a stranded task', {
          taskId,
          status: record.status,
          unchangedForMs: claimed.updatedAt - record.updatedAt,
          metric: 'order_sweeper_requeues',
        });
      }
      if (page.length < pageSize || fresh.length === 0 || requeued + skipped + failed >= maxPerSweep) break;
    }
    this.#totals = {
      requeued: this.#totals.requeued + requeued,
      skipped: this.#totals.skipped + skipped,
      failed: this.#totals.failed + failed,
    };
    if (requeued + skipped + failed > 0) logger.info('Order sweep done', { requeued, skipped, failed });
    return { requeued, skipped, failed };
  }
}
