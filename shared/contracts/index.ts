export * from './common.js';
export * from './health.js';
export * from './history.js';
export * from './instrument.js';
export * from './order.js';
export * from './subscription.js';
export * from './tick.js';
export * from './websocket.js';
