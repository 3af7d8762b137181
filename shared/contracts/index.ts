export * from './events.ts';
export * from './primitives.ts';
export * from './topics.ts';
