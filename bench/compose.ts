// The same topology as a Compose file, written from the Terraform state of a deploy: same
// images (by tag), entrypoints, commands, environment, healthchecks, networks, volumes, ports,
// capabilities, limits, and uploaded files (as Compose `configs` with inline content, which
// Compose copies into the container before starting it, as the provider's `upload` does).
// `depends_on` follows Terraform's dependencies between containers, waiting for health where
// the dependency has a healthcheck (what `wait: true` does in the Terraform graph).

type Attrs = Record<string, any>;
interface State {
  resources: { type: string; name: string; instances: { attributes: Attrs; dependencies?: string[] }[] }[];
}

/** Compose interpolates `$` in every string: a literal one is written `$$`. */
const lit = (s: string) => s.replace(/\$/g, '$$$$');
const lits = (a: string[]) => a.map(lit);

/** The provider's upload mode: `permissions`, else 0744 for executables, else 0644. */
function uploadMode(u: Attrs): number {
  if (u.permissions) return parseInt(u.permissions, 8);
  return u.executable ? 0o744 : 0o644;
}

export function composeFromState(state: State): Record<string, unknown> {
  const one = (type: string) => state.resources.filter((r) => r.type === type).map((r) => ({ address: `${type}.${r.name}`, attrs: r.instances[0].attributes, deps: r.instances[0].dependencies ?? [] }));
  const imageName = new Map(one('docker_image').map((i) => [i.attrs.image_id as string, i.attrs.name as string]));
  const containers = one('docker_container');
  const byAddress = new Map(containers.map((c) => [c.address, c.attrs]));

  const networks: Record<string, unknown> = {};
  for (const { attrs: n } of one('docker_network')) {
    networks[n.name] = { name: n.name, driver: n.driver, internal: n.internal || undefined, labels: Object.fromEntries((n.labels ?? []).map((l: Attrs) => [l.label, l.value])) };
  }
  const volumes: Record<string, unknown> = {};
  for (const { attrs: v } of one('docker_volume')) volumes[v.name] = { name: v.name };

  const configs: Record<string, unknown> = {};
  const services: Record<string, unknown> = {};
  for (const { attrs: c, deps } of containers) {
    const image = imageName.get(c.image);
    if (!image) throw new Error(`${c.name}: no docker_image with id ${c.image}`);
    const svcConfigs = (c.upload ?? []).map((u: Attrs, i: number) => {
      if (u.source || u.content_base64) throw new Error(`${c.name}: only inline upload content is supported`);
      const key = `${c.name}-${i}`;
      configs[key] = { content: lit(u.content) };
      return { source: key, target: u.file, mode: uploadMode(u) };
    });
    const hc = c.healthcheck?.[0];
    const dependsOn: Record<string, unknown> = {};
    for (const d of deps) {
      const dep = byAddress.get(d);
      if (dep) dependsOn[dep.name] = { condition: dep.healthcheck?.length ? 'service_healthy' : 'service_started' };
    }
    services[c.name] = {
      container_name: c.name,
      image,
      entrypoint: c.entrypoint?.length ? lits(c.entrypoint) : undefined,
      command: c.command?.length ? lits(c.command) : undefined,
      environment: lits(c.env ?? []),
      user: c.user || undefined,
      working_dir: c.working_dir || undefined,
      healthcheck: hc ? { test: lits(hc.test), interval: hc.interval, timeout: hc.timeout, start_period: hc.start_period, retries: hc.retries } : undefined,
      networks: Object.fromEntries((c.networks_advanced ?? []).map((n: Attrs) => [n.name, { aliases: n.aliases }])),
      ports: (c.ports ?? []).map((p: Attrs) => `${p.ip}:${p.external}:${p.internal}/${p.protocol}`),
      volumes: (c.mounts ?? []).map((m: Attrs) => {
        if (m.type !== 'volume' && m.type !== 'bind') throw new Error(`${c.name}: only volume and bind mounts are supported`);
        // A volume Terraform does not manage (the backups' archive) is declared here too.
        if (m.type === 'volume') volumes[m.source] ??= { name: m.source };
        return { type: m.type, source: m.source, target: m.target, read_only: m.read_only || undefined };
      }),
      logging: c.log_driver ? { driver: c.log_driver, options: c.log_opts ?? undefined } : undefined,
      configs: svcConfigs,
      cap_add: c.capabilities?.[0]?.add,
      cap_drop: c.capabilities?.[0]?.drop,
      security_opt: c.security_opts,
      mem_limit: `${c.memory}m`,
      memswap_limit: `${c.memory_swap}m`,
      shm_size: `${c.shm_size}m`,
      restart: c.restart,
      read_only: c.read_only || undefined,
      init: c.init || undefined,
      stop_signal: c.stop_signal || undefined,
      stop_grace_period: `${c.destroy_grace_seconds}s`,
      labels: Object.fromEntries((c.labels ?? []).map((l: Attrs) => [l.label, lit(l.value)])),
      depends_on: Object.keys(dependsOn).length ? dependsOn : undefined,
    };
  }
  // Terraform's volume mounts name the volumes; Compose wants them declared by their key.
  return JSON.parse(JSON.stringify({ name: 'dwsbench-compose', services, networks, volumes, configs }));
}
