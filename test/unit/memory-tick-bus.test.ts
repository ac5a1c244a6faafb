import { MemoryTickBus } from '../../shared/adapters/memory/memory-tick-bus.js';
import { tickBusContract } from '../support/tick-bus-contract.js';

tickBusContract('memory', async ({ onHandlerError }) => new MemoryTickBus({ onHandlerError }));
