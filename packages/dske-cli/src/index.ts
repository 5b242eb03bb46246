/** @dske/cli: topology configuration, process management and ETSI calls behind `dske-cli`. */
export {
  AUTH_SCHEMES,
  CONFIG_DEFAULTS,
  ConfigError,
  configSchema,
  formatYamlPath,
  loadConfig,
  parseConfig,
  resolveStateDir,
  type AuthScheme,
  type ConfigIssue,
  type DskeConfig,
  type DskeConfigInput,
} from "./config";
export { runCli, reorderEtsiArgs, type RunCliOptions } from "./cli";
export { CliError } from "./errors";
export {
  DASHBOARD_DEFAULTS,
  dashboardOptionsSchema,
  parseDashboardOptions,
  runDashboard,
  type DashboardCommandContext,
  type DashboardOptions,
} from "./dashboard-command";
export { RestartAwareCounters, type NodeRestarts } from "./dashboard-counters";
export { niceMax, SparklineHistory, type Sparkline } from "./dashboard-history";
export {
  EXHAUSTED_BELOW_BYTES,
  linkLevelName,
  poolLevelName,
  psrdThresholds,
  type LinkLevelName,
  type PoolLevelName,
  type PsrdThresholds,
} from "./dashboard-levels";
export {
  DELIVERED_METRIC,
  ESTABLISHED_METRIC,
  METRIC_NAMES,
  parsePrometheusText,
  pairKeyCounts,
  processStartMs,
  type MetricSample,
  type PairCount,
} from "./dashboard-metrics";
export {
  DashboardModel,
  type ClientView,
  type DashboardSnapshot,
  type EncryptorView,
  type HubView,
  type KeyCounter,
  type LinkView,
  type NodeObservation,
  type NodeState,
  type PairView,
  type PoolLevel,
  type ProcessView,
} from "./dashboard-model";
export { DashboardPoller, fetchNodeMetrics, type DashboardPollerOptions, type SnapshotListener } from "./dashboard-poller";
export { RateTracker } from "./dashboard-rates";
export { startDashboardServer, type DashboardServer, type DashboardServerOptions } from "./dashboard-server";
export {
  CertError,
  OPERATOR_CN,
  certLayout,
  ensureCertificates,
  readTlsMaterial,
  setTlsEnabled,
  tlsEnabled,
  type CertLayout,
  type EnsureCertsOptions,
  type EnsureCertsResult,
  type TlsIdentityFiles,
  type TlsMaterial,
} from "./certs";
export {
  compareKeys,
  EtsiCaller,
  type EtsiCallerTls,
  type EtsiKey,
  type EtsiResponse,
  type GetKeyOptions,
  type KeyMismatch,
} from "./etsi-caller";
export { EtsiCommand, ETSI_OPERATIONS, type EtsiOperation, type EtsiCommandOptions } from "./etsi-command";
export { probeNode, requestStop, type ProbeResult } from "./mgmt";
export { defaultServerScript, nodeArgs, serverScript, type ServerScripts } from "./node-command";
export { CapturedOutput, consoleOutput, type Output } from "./output";
export { DEFAULT_TIMEOUTS, ProcessManager, type ManagerTimeouts, type ProcessManagerOptions } from "./process-manager";
export { isPortFree } from "./ports";
export { StateDir } from "./state-dir";
export { collectStatus, formatNodeSummary, printStatusJson, printStatusSummary, type StatusResult } from "./status-command";
export {
  HOST,
  nodeBaseUrl,
  nodeLabel,
  selectNodes,
  Topology,
  UnknownNodeError,
  type NodeFilter,
  type NodeKind,
  type NodeSpec,
  type Selection,
} from "./topology";
