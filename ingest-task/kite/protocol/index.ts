/**
 * Kite's streaming protocol as pure functions over bytes and strings: no sockets, no clock, so the
 * ticker connection, the simulator, the benchmarks and the tests all share one definition of it.
 */
export * from './client-message.js';
export * from './constants.js';
export * from './encode-frame.js';
export * from './parse-frame.js';
export * from './text-message.js';
