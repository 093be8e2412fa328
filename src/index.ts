// The public API: the constructs, their props and the types those name, the policy aspect, the
// logging aspect and the one error type. Renderers and other internals are not part of it.
export * from './errors';
export { DEFAULT_IMAGES } from './private/images';
export * from './load-balancer/load-balancer';
export * from './app-servers/app-server-pair';
export * from './database/mysql-primary-replica';
export * from './database/database-backup';
export * from './distributed-web-stack';
export * from './policy/security-policy';
export * from './monitoring/monitoring';
export { ContainerLogging } from './private/docker';
export type { ContainerLoggingProps } from './private/docker';
export { DEFAULT_ALERT_THRESHOLDS, ALERT_NAMES } from './monitoring/render/prometheus';
export type { AlertThresholds } from './monitoring/render/prometheus';
export type { AlertReceiver } from './monitoring/render/alertmanager';
export type { DatabaseEngine, DatabaseRole } from './database/render/mysql';
