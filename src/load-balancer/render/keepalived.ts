/**
 * keepalived (VRRP) for the active-passive HAProxy pair: one floating IP on a Docker bridge
 * network, unicast adverts between the two nodes, HAProxy's health tracked by a script.
 * Each node is one container running keepalived and HAProxy under a small bash supervisor.
 *
 * Everything rendered here goes through Terraform: no `${` or `%{` in the texts (bash uses
 * `$var`), except where the model itself carries a token (authPass).
 */

export interface KeepalivedModel {
  /** virtual_router_id, 1..255: must be unique among VRRP routers on the network. */
  readonly routerId: number;
  /**
   * Shared secret (≤ 8 characters, may be a Terraform token). VRRPv3 has no authentication
   * (keepalived ignores it with a warning), so it is rendered only with VRRPv2, i.e. when
   * advertIntervalSeconds is a whole number.
   */
  readonly authPass: string | undefined;
  /** 1..254; the node with the higher priority wins when both start at once. */
  readonly priority: number;
  /** This node's IPv4 address on the VIP network. */
  readonly sourceAddress: string;
  readonly peerAddress: string;
  readonly virtualIp: string;
  /** Prefix length of the VIP network. */
  readonly prefixLength: number;
  /** Whole seconds (VRRPv2, 1..255) or fractional (VRRPv3, 0.01..40.95 in steps of 0.01). */
  readonly advertIntervalSeconds: number;
  /** Take the VIP back when the higher-priority node returns (a second, avoidable switch-over). */
  readonly preempt: boolean;
  /** Path of the health check script (renderLbHealthCheck) inside the container. */
  readonly checkScriptPath: string;
  /** Whole seconds, ≥ 1 (keepalived's vrrp_script interval is an integer). */
  readonly checkIntervalSeconds: number;
}

/**
 * Stands for the interface name in the rendered config: Docker does not promise which ethN a
 * network gets, so the supervisor substitutes the interface that holds sourceAddress at start.
 */
export const KEEPALIVED_INTERFACE_PLACEHOLDER = '__LB_INTERFACE__';

/** Renders keepalived.conf (with the interface placeholder). Pure: same model, same text. */
export function renderKeepalivedConfig(m: KeepalivedModel): string {
  const iface = KEEPALIVED_INTERFACE_PLACEHOLDER;
  // VRRPv2 adverts carry whole seconds; v3 carries centiseconds but drops authentication.
  const v3 = !Number.isInteger(m.advertIntervalSeconds);
  const lines = [
    'global_defs {',
    `  router_id lb-${m.routerId}-${m.priority}`,
    // The check runs as root (it only opens a TCP connection) and keepalived refuses scripts
    // that a non-root user could modify.
    '  enable_script_security',
    '  script_user root',
    // Gratuitous ARPs right after becoming MASTER move clients' ARP caches (and the bridge's
    // table) to this node; a second burst 1 s later (default 5 s) for a client that missed it.
    '  vrrp_garp_master_delay 1',
    '  vrrp_garp_master_repeat 3',
    '}',
    '',
    'vrrp_script chk_haproxy {',
    `  script "${m.checkScriptPath}"`,
    `  interval ${m.checkIntervalSeconds}`,
    `  timeout ${m.checkIntervalSeconds}`,
    // weight 0: two failures put the instance in FAULT, which sends a priority-0 advert and
    // drops the VIP, so the peer takes over without waiting for its master-down timer.
    '  fall 2',
    '  rise 2',
    '}',
    '',
    'vrrp_instance VI_1 {',
    // Both BACKUP: the pair elects a MASTER by priority; required for nopreempt.
    '  state BACKUP',
    `  interface ${iface}`,
    `  virtual_router_id ${m.routerId}`,
    `  priority ${m.priority}`,
    `  version ${v3 ? 3 : 2}`,
    `  advert_int ${m.advertIntervalSeconds}`,
    ...(m.preempt ? [] : ['  nopreempt']),
    // Docker bridges may drop multicast: adverts go only to the peer, and only the peer's
    // adverts are accepted.
    `  unicast_src_ip ${m.sourceAddress}`,
    '  unicast_peer {',
    `    ${m.peerAddress}`,
    '  }',
    '  check_unicast_src',
    ...(!v3 && m.authPass !== undefined
      ? ['  authentication {', '    auth_type PASS', `    auth_pass ${m.authPass}`, '  }']
      : []),
    '  virtual_ipaddress {',
    `    ${m.virtualIp}/${m.prefixLength} dev ${iface}`,
    '  }',
    '  track_script {',
    '    chk_haproxy',
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}

/**
 * The container's entrypoint (bash): runs keepalived and HAProxy (master-worker) side by side.
 * - USR2 reloads HAProxy without dropping connections (its master re-reads the config).
 * - docker stop (TERM/USR1/INT/QUIT): keepalived stops first, so the VIP leaves at once with a
 *   priority-0 advert; then HAProxy stops softly (in-flight requests finish) and the script exits 0.
 * - keepalived or HAProxy exiting on its own stops the other the same way and exits 1, so the
 *   peer takes over and Docker's restart policy restarts the node.
 * Capabilities: NET_ADMIN (VIP) and NET_RAW (VRRP, ARP) for keepalived; KILL too, or HAProxy's
 * root master cannot signal its workers (another user) and stops and reloads hang.
 */
export function renderLbNodeSupervisor(o: { haproxyConfigPath: string; keepalivedTemplatePath: string; sourceAddress: string }): string {
  return `#!/bin/bash
# Load balancer node: keepalived (floating IP) and HAProxy in one container.
set -u
self=${o.sourceAddress}

# The interface holding our address (Docker's ethN order is not fixed); give a late network
# attachment up to 10 s.
iface=
for ((i = 0; i < 50; i++)); do
  read -r _ iface _ < <(ip -o -4 addr show to "$self/32")
  [[ -n $iface ]] && break
  sleep 0.2
done
if [[ -z $iface ]]; then
  echo "lb-node: no interface holds $self" >&2
  exit 1
fi
conf=$(mktemp -t keepalived.XXXXXX) || exit 1
sed "s/${KEEPALIVED_INTERFACE_PLACEHOLDER}/$iface/g" '${o.keepalivedTemplatePath}' > "$conf" || exit 1

stopping=
haproxy=
trap 'stopping=1' TERM INT QUIT USR1
trap '[[ -n $haproxy ]] && kill -USR2 "$haproxy"' USR2

keepalived --dont-fork --log-console --vrrp --use-file "$conf" &
keepalived=$!
haproxy -W -db -f '${o.haproxyConfigPath}' &
haproxy=$!

# wait -n also returns when a trapped signal arrives (a reload): wait again unless stopping
# or one of the two is gone.
while [[ -z $stopping ]] && kill -0 "$keepalived" 2>/dev/null && kill -0 "$haproxy" 2>/dev/null; do
  wait -n
done

code=0
if [[ -z $stopping ]]; then
  echo "lb-node: keepalived or haproxy exited; stopping this node" >&2
  code=1
fi
# Signal, then wait until it is gone (a trapped signal interrupts wait, so loop).
stop() {
  kill "-$2" "$1" 2>/dev/null
  while kill -0 "$1" 2>/dev/null; do wait "$1"; done
}
stop "$keepalived" TERM
stop "$haproxy" USR1
exit $code
`;
}

/**
 * keepalived's vrrp_script (bash): exit 0 when HAProxy's monitor URI answers 200. Uses bash's
 * /dev/tcp because the official haproxy image has no curl; a connect to 127.0.0.1 is answered
 * or refused at once, and the read is bounded by timeoutSeconds.
 */
export function renderLbHealthCheck(o: { statsPort: number; timeoutSeconds: number }): string {
  return `#!/bin/bash
# Is HAProxy serving? GET its monitor URI (200 while the process runs).
exec 3<>/dev/tcp/127.0.0.1/${o.statsPort} || exit 1
printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3
read -r -t ${o.timeoutSeconds} _ status _ <&3 || exit 1
[[ $status == 200 ]]
`;
}
