// The public API: the constructs, their props and the types those name, the policy aspect, the
// logging aspect and the one error type. Renderers and other internals are not part of it.
export * from './errors';
export { DEFAULT_IMAGES } from './images';
export * from './load-balancer';
export * from './app-server-pair';
export * from './mysql-primary-replica';
export * from './distributed-web-stack';
export * from './security-policy';
export * from './monitoring';
export { ContainerLogging } from './docker';
export type { ContainerLoggingProps } from './docker';
export { DEFAULT_ALERT_THRESHOLDS, ALERT_NAMES } from './config/prometheus';
export type { AlertThresholds } from './config/prometheus';
export type { AlertReceiver } from './config/alertmanager';
export type { DatabaseEngine, DatabaseRole } from './config/mysql';
