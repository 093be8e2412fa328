import { network } from '@cdktf/provider-docker';
import { Aspects, TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { z } from 'zod';
import { AppServerPair, AppServerPairProps, Codebase } from './app-servers/app-server-pair';
import { ContainerLogging, ContainerLoggingProps, namePrefixFor, ensureDockerProvider, terraformLiteral } from './private/docker';
import { parseSubnet, upperHalf } from './private/ipv4';
import { LoadBalancer, LoadBalancerProps } from './load-balancer/load-balancer';
import { Monitoring, MonitoringImages, MonitoringProps } from './monitoring/monitoring';
import { DatabaseBackup, DatabaseBackupProps } from './database/database-backup';
import { MySqlPrimaryReplica, MySqlPrimaryReplicaProps } from './database/mysql-primary-replica';
import { SecurityPolicy } from './policy/security-policy';
import { DEFAULT_IMAGES } from './private/images';
import { propsSchema } from './private/props-schema';
import { childPath, imageRef, parseProps, namePrefix, childProps } from './private/validation';

/** Images for every component; each defaults to a pinned official image. */
export interface StackImages {
  /** @default "haproxy:3.0" */
  readonly haproxy?: string;
  /** @default "nginx:1.27" */
  readonly nginx?: string;
  /** The database image, for the chosen engine. @default "mysql:8.4" or "mariadb:11.4" */
  readonly database?: string;
  /** The Go image the failover agent is compiled in (on the Docker host). @default "golang:1.24" */
  readonly golang?: string;
  /** Images of the monitoring stack. @default DEFAULT_MONITORING_IMAGES */
  readonly monitoring?: MonitoringImages;
}

export interface DistributedWebStackProps {
  /** The application's code (image or directory). */
  readonly codebase: Codebase;
  /** Container, network and volume names start with this. @default the stack's id */
  readonly namePrefix?: string;
  readonly images?: StackImages;
  /** Load balancer settings (networks, targets and image are set by the stack). */
  readonly loadBalancer?: Omit<LoadBalancerProps, 'networks' | 'targets' | 'image' | 'namePrefix'>;
  /** App server settings (codebase, networks, database and image are set by the stack). */
  readonly appServers?: Omit<AppServerPairProps, 'codebase' | 'network' | 'database' | 'nginxImage' | 'namePrefix'>;
  /** Database settings (network and image are set by the stack). */
  readonly database?: Omit<MySqlPrimaryReplicaProps, 'network' | 'image' | 'routerImage' | 'agentBuilderImage' | 'namePrefix'>;
  /**
   * Also output the load balancer's allow-list (`loadBalancer.publish.allowFrom`) as a script for
   * the Docker host's DOCKER-USER chain (`<prefix>_docker_user_rules`). @default false
   */
  readonly hostFirewall?: boolean;
  /**
   * Prometheus, Alertmanager and exporters on the mgmt network (see Monitoring); `false` for none.
   * The stack sets what to watch; these are the rest of Monitoring's props.
   * @default {}
   */
  readonly monitoring?: false | Omit<MonitoringProps, 'managementNetwork' | 'loadBalancer' | 'probeNetwork' | 'appServers' | 'database' | 'images' | 'namePrefix'>;
  /**
   * Backups of the database (see DatabaseBackup): daily full backups from the node that is not
   * the writer, the binary logs streamed, encrypted at rest; `false` for none.
   * @default {}
   */
  readonly backup?: false | Omit<DatabaseBackupProps, 'database' | 'managementNetwork' | 'namePrefix'>;
  /**
   * The log driver of every container, e.g. { driver: "syslog", options: { "syslog-address": "udp://10.0.0.5:514" } }.
   * @default { driver: "json-file", options: { "max-size": "10m", "max-file": "3" } } (rotated, so logs cannot fill the disk)
   */
  readonly logging?: ContainerLoggingProps;
}

const schema = propsSchema<DistributedWebStackProps>()({
  codebase: z.custom<any>((v) => v !== undefined && v !== null, { error: 'is required: { image: "..." } or { directory: "..." } (see AppServerPair)' }),
  namePrefix: namePrefix.optional(),
  images: propsSchema<StackImages>()({ haproxy: imageRef.default(DEFAULT_IMAGES.haproxy), nginx: imageRef.default(DEFAULT_IMAGES.nginx), database: imageRef.optional(), golang: imageRef.default(DEFAULT_IMAGES.golang), monitoring: z.any().optional() }).prefault({}),
  loadBalancer: childProps('LoadBalancer').optional(),
  appServers: childProps('AppServerPair').optional(),
  database: childProps('MySqlPrimaryReplica').optional(),
  hostFirewall: z.boolean({ error: 'must be true or false' }).default(false),
  monitoring: z.union([z.literal(false), z.record(z.string(), z.any())], { error: 'must be false or Monitoring props' }).default({}),
  backup: z.union([z.literal(false), z.record(z.string(), z.any())], { error: 'must be false or DatabaseBackup props' }).default({}),
  logging: propsSchema<ContainerLoggingProps>()({
    driver: z.string().regex(/^[a-z0-9_-]+$/, { error: 'must be a Docker log driver name such as "json-file" or "syslog"' }),
    options: z.record(z.string(), z.string({ error: 'must be a string' })).optional(),
  }).default({ driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } }),
});
/** The props' checks and defaults, for the tests (src/index.ts does not export it). */
export const distributedWebStackPropsSchema = schema;

/**
 * The whole redundant web stack: an HAProxy load balancer, two Nginx + app servers and a MySQL
 * primary and replica, one Docker network per tier (edge, app, data, mgmt). Only the load balancer
 * publishes a port.
 */
export class DistributedWebStack extends Construct {
  /** Clients and the load balancer. */
  readonly edgeNetwork: network.Network;
  /** Load balancer, Nginx and apps. */
  readonly appNetwork: network.Network;
  /** Apps and databases; internal (no route out of the host). */
  readonly dataNetwork: network.Network;
  /** Statistics and metrics (the load balancer's stats port); internal. Attach monitoring here. */
  readonly managementNetwork: network.Network;
  readonly loadBalancer: LoadBalancer;
  readonly appServers: AppServerPair;
  readonly database: MySqlPrimaryReplica;
  /** Prometheus, Alertmanager and the exporters, unless `monitoring: false`. */
  readonly monitoring?: Monitoring;
  /** The database's backups, unless `backup: false`. */
  readonly backup?: DatabaseBackup;
  readonly urlOutput: TerraformOutput;
  /** The load balancer's certificate (PEM), when TLS is on. */
  readonly certificateOutput?: TerraformOutput;
  /** The DOCKER-USER script, when `hostFirewall` is on. */
  readonly dockerUserRulesOutput?: TerraformOutput;

  constructor(scope: Construct, id: string, props: DistributedWebStackProps) {
    const path = childPath(scope, id);
    const p = parseProps(schema, props, path);
    const prefix = namePrefixFor(scope, path, p.namePrefix);
    super(scope, id);
    const stack = TerraformStack.of(this);
    const stackChildren = new Set(stack.node.children);
    try {
      ensureDockerProvider(this);
      const net = (nid: string, suffix: string, internal: boolean, ipamConfig?: network.NetworkIpamConfig[]) =>
        new network.Network(this, nid, { name: `${prefix}-${suffix}`, driver: 'bridge', internal, ipamConfig, labels: [{ label: 'dws.tier', value: suffix }] });
      // A load balancer pair needs fixed addresses on edge: Docker hands out only the upper half.
      // (A bad subnet is reported by the LoadBalancer below.)
      const subnet = props.loadBalancer?.pair?.subnet;
      const pairSubnet = typeof subnet === 'string' ? parseSubnet(subnet) : undefined;
      this.edgeNetwork = net('EdgeNetwork', 'edge', false, pairSubnet ? [{ subnet: subnet!, ipRange: upperHalf(pairSubnet) }] : undefined);
      this.appNetwork = net('AppNetwork', 'app', false);
      this.dataNetwork = net('DataNetwork', 'data', true);
      this.managementNetwork = net('ManagementNetwork', 'mgmt', true);

      this.database = new MySqlPrimaryReplica(this, 'Database', {
        ...props.database,
        network: this.dataNetwork,
        image: p.images.database,
        routerImage: p.images.haproxy,
        agentBuilderImage: p.images.golang,
        ...(p.monitoring !== false ? { managementNetwork: this.managementNetwork } : {}),
        namePrefix: prefix,
      });
      this.appServers = new AppServerPair(this, 'AppServers', {
        ...props.appServers,
        codebase: props.codebase,
        network: this.appNetwork,
        ...(p.monitoring !== false ? { managementNetwork: this.managementNetwork } : {}),
        database: this.database,
        nginxImage: p.images.nginx,
        namePrefix: prefix,
      });
      this.loadBalancer = new LoadBalancer(this, 'LoadBalancer', {
        ...props.loadBalancer,
        networks: [this.edgeNetwork, this.appNetwork],
        managementNetwork: this.managementNetwork,
        targets: [this.appServers],
        image: p.images.haproxy,
        namePrefix: prefix,
      });
      if (p.backup !== false) {
        this.backup = new DatabaseBackup(this, 'Backup', {
          ...(props.backup || {}),
          database: this.database,
          ...(p.monitoring !== false ? { managementNetwork: this.managementNetwork } : {}),
          namePrefix: prefix,
        });
      }
      if (p.monitoring !== false) {
        this.monitoring = new Monitoring(this, 'Monitoring', {
          ...(props.monitoring || {}),
          managementNetwork: this.managementNetwork,
          loadBalancer: this.loadBalancer,
          probeNetwork: this.edgeNetwork,
          appServers: this.appServers,
          database: this.database,
          ...(this.backup ? { backup: this.backup } : {}),
          ...(p.images.monitoring ? { images: p.images.monitoring } : {}),
          namePrefix: prefix,
        });
      }
      Aspects.of(this).add(new ContainerLogging(p.logging));
      // Secure by default: the policy checks every container of the stack at synth time.
      Aspects.of(this).add(new SecurityPolicy());
      this.urlOutput = new TerraformOutput(this, 'url', { value: this.loadBalancer.url, description: 'Where clients reach the stack' });
      const outputId = prefix.replace(/[^A-Za-z0-9_]/g, '_');
      this.urlOutput.overrideLogicalId(`${outputId}_url`);
      if (this.loadBalancer.certificatePem !== undefined) {
        // Public, so clients can trust a self-signed certificate.
        this.certificateOutput = new TerraformOutput(this, 'certificate', { value: this.loadBalancer.certificatePem, description: 'The load balancer certificate (PEM)' });
        this.certificateOutput.overrideLogicalId(`${outputId}_certificate`);
      }
      if (p.hostFirewall) {
        this.dockerUserRulesOutput = new TerraformOutput(this, 'docker_user_rules', {
          value: terraformLiteral(this.loadBalancer.dockerUserRules()),
          description: 'Run as root on the Docker host: the allow-list on the DOCKER-USER chain',
        });
        this.dockerUserRulesOutput.overrideLogicalId(`${outputId}_docker_user_rules`);
      }
    } catch (e) {
      // Nothing half-made: a child's validation error removes the whole stack from the tree,
      // and the default providers it added.
      scope.node.tryRemoveChild(id);
      for (const c of stack.node.children) if (!stackChildren.has(c)) stack.node.tryRemoveChild(c.node.id);
      throw e;
    }
  }
}
