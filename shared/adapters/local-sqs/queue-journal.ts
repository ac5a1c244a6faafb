import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

/** A message as the journal keeps it: what a restart needs to rebuild it (MD5s are recomputed). */
export interface JournalMessage {
  readonly id: string;
  readonly body: string;
  /** Message attributes; binary values as base64. */
  readonly attributes: Readonly<
    Record<string, { readonly DataType: string; readonly StringValue?: string; readonly BinaryValue?: string }>
  >;
  readonly sentAt: number;
  readonly senderId: string;
  readonly sourceArn?: string;
  readonly receiveCount: number;
  readonly firstReceivedAt?: number;
  /** Epoch ms from which it may be received (a delayed message's due time). */
  readonly visibleAt: number;
  /** Whether it was received and not deleted: after a restart, its consumer is gone. */
  readonly inFlight: boolean;
}

/** One line of the journal. */
export type JournalRecord =
  | { readonly op: 'put'; readonly message: JournalMessage }
  | { readonly op: 'receive'; readonly id: string; readonly receiveCount: number; readonly firstReceivedAt: number }
  | { readonly op: 'delete'; readonly id: string }
  | { readonly op: 'purge' };

/** The journal holds lines that are not a torn tail: something other than this writer changed it. */
export class QueueJournalCorruptError extends Error {
  override readonly name = 'QueueJournalCorruptError';
}

/** Lines appended since the last compaction before the journal is rewritten, at least. */
const MIN_LINES_BEFORE_COMPACTION = 4096;

/**
 * The messages a journal's lines leave, in arrival order. A crash can leave the last line torn
 * (written in part, or as zeros after a power loss): a tail of unreadable lines is ignored. An
 * unreadable line followed by a readable one cannot come from a crash of the one appending writer,
 * so it is refused rather than silently dropping what follows.
 */
export function replayJournal(text: string, path: string): JournalMessage[] {
  const lines = text.split('\n');
  const messages = new Map<string, JournalMessage>();
  let torn: number | undefined;
  for (const [index, line] of lines.entries()) {
    if (line === '') continue;
    let record: JournalRecord;
    try {
      record = JSON.parse(line) as JournalRecord;
      if (typeof record !== 'object' || record === null || typeof record.op !== 'string') throw new Error('no op');
    } catch {
      torn ??= index;
      continue;
    }
    if (torn !== undefined) {
      throw new QueueJournalCorruptError(
        `Queue journal ${path} has an unreadable line ${torn + 1} before readable ones: not a torn write; move the file away to start empty`,
      );
    }
    switch (record.op) {
      case 'put':
        messages.set(record.message.id, record.message);
        break;
      case 'receive': {
        const message = messages.get(record.id);
        if (message !== undefined) {
          messages.set(record.id, {
            ...message,
            receiveCount: record.receiveCount,
            firstReceivedAt: message.firstReceivedAt ?? record.firstReceivedAt,
            inFlight: true,
          });
        }
        break;
      }
      case 'delete':
        messages.delete(record.id);
        break;
      case 'purge':
        messages.clear();
        break;
    }
  }
  return [...messages.values()];
}

/**
 * An append-only journal of one local queue (JSON lines of put, receive, delete and purge), so the
 * queue keeps its messages across a crash of the process.
 *
 * - Every {@link append} is written to the file before it returns (one `write`), so a killed
 *   process loses nothing it appended; {@link sync} makes what was appended survive a power loss
 *   too (`fdatasync`), once for all appends of one event-loop turn (group commit).
 * - Opening reads the file, keeps what it leaves ({@link replayJournal}) and rewrites it compacted
 *   (a new file, synced, renamed over the old one), which also drops a torn tail; the queue asks
 *   for the same compaction once the lines outgrow its messages ({@link shouldCompact}).
 *
 * One process at a time: two writers on one file interleave lines.
 */
export class QueueJournal {
  readonly path: string;
  #fd: number;
  #linesSinceCompaction = 0;
  #unsynced = false;
  #pendingSync: Promise<void> | undefined;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /** Opens (creating) the journal at `path`; answers it with the messages it held, compacted. */
  static open(path: string): { journal: QueueJournal; messages: JournalMessage[] } {
    mkdirSync(dirname(path), { recursive: true });
    const messages = existsSync(path) ? replayJournal(readFileSync(path, 'utf8'), path) : [];
    writeCompacted(path, messages);
    return { journal: new QueueJournal(path, openSync(path, 'a')), messages };
  }

  /** Writes one record; it survives the process being killed from the moment this returns. */
  append(record: JournalRecord): void {
    // One write call per line: the kernel takes it whole, so a killed process leaves whole lines.
    writeAll(this.#fd, `${JSON.stringify(record)}\n`);
    this.#linesSinceCompaction++;
    this.#unsynced = true;
  }

  /** Resolves once everything appended so far is on disk; appends of one turn share one `fdatasync`. */
  sync(): Promise<void> {
    if (!this.#unsynced) return this.#pendingSync ?? Promise.resolve();
    this.#pendingSync ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.#pendingSync = undefined;
        try {
          this.syncNow();
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
    return this.#pendingSync;
  }

  /** Puts everything appended so far on disk before returning (a move between queues needs its order kept). */
  syncNow(): void {
    if (!this.#unsynced) return;
    this.#unsynced = false;
    fdatasyncSync(this.#fd);
  }

  /** Whether the lines appended since the last compaction outgrew `liveMessages` enough to rewrite. */
  shouldCompact(liveMessages: number): boolean {
    return this.#linesSinceCompaction >= Math.max(MIN_LINES_BEFORE_COMPACTION, 4 * liveMessages);
  }

  /** Rewrites the journal as one put per message (synced and renamed into place), then appends to it. */
  compact(messages: readonly JournalMessage[]): void {
    writeCompacted(this.path, messages);
    closeSync(this.#fd);
    this.#fd = openSync(this.path, 'a');
    this.#linesSinceCompaction = 0;
    this.#unsynced = false;
  }

  /** Syncs and closes the file. */
  close(): void {
    this.syncNow();
    closeSync(this.#fd);
  }
}

/** Writes `messages` as a new journal next to `path`, syncs it and renames it over `path`. */
function writeCompacted(path: string, messages: readonly JournalMessage[]): void {
  const temporary = `${path}.compacting`;
  const fd = openSync(temporary, 'w');
  try {
    writeAll(
      fd,
      messages.map((message) => `${JSON.stringify({ op: 'put', message } satisfies JournalRecord)}\n`).join(''),
    );
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  // The rename is durable only once the directory is synced.
  const directory = openSync(dirname(path), 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

/** Writes all of `text`, however many calls the kernel takes. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written);
}
