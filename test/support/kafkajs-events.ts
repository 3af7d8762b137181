/** kafkajs' instrumentation event names, as its consumers expose them (`consumer.events`), for fakes. */
export const CONSUMER_EVENTS = {
  GROUP_JOIN: 'consumer.group_join',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  FETCH: 'consumer.fetch',
  HEARTBEAT: 'consumer.heartbeat',
  REQUEST_TIMEOUT: 'consumer.network.request_timeout',
  STOP: 'consumer.stop',
  DISCONNECT: 'consumer.disconnect',
  CRASH: 'consumer.crash',
} as const;
