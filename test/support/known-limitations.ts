/**
 * What an implementation of an AWS API that a contract suite runs against is known to do otherwise
 * than AWS. A suite keeps every assertion for every other target; only the one the named limitation
 * breaks is left out for the target that has it, and the flag's TSDoc says why.
 */
export interface KnownLimitations {
  /**
   * Two conditional writes to one item sent at the same moment can both pass their condition.
   * `moto_server` serves each request on a thread of its own (werkzeug, `threaded=True`) and its
   * DynamoDB checks a `ConditionExpression` and applies the write without a lock on the item, so a
   * race between them has two winners. DynamoDB applies each conditional write to an item atomically
   * (condition and write as one), which is what the stores rely on and what dynalite, serving one
   * request at a time, shows.
   */
  readonly racyConditionalWrites?: boolean;
  /**
   * Not a difference from AWS but a cost: moto spends about 9 ms of CPU on each DynamoDB request, so
   * the listing of more than a page of records (1,200 upserts, ten seconds) is left out and paging
   * is checked through three pages of 50 records instead of 250.
   */
  readonly slowBulkWrites?: boolean;
}

/** moto 5's limitations, as the contract suites meet them. */
export const MOTO_LIMITATIONS: KnownLimitations = { racyConditionalWrites: true, slowBulkWrites: true };
