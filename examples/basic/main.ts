// The seed's architecture as a cdktf app: `npx cdktf synth` / `npx cdktf deploy` at the repo root.
//
// Environment (all optional), for hosts without Docker Hub, e.g. a private registry mirror:
//   DWS_IMAGES_JSON   a JSON file {"haproxy","nginx","node","mysql","mariadb","golang","monitoring"} of image
//                     names ("monitoring": one image with Prometheus, Alertmanager and the exporters)
//   DWS_DB_ENGINE     "mysql" (default) or "mariadb"
//   DWS_HTTP_PORT     host port on 127.0.0.1 for HTTP, which redirects to HTTPS (default 8080)
//   DWS_HTTPS_PORT    host port on 127.0.0.1 for HTTPS (default 8443; a self-signed certificate)
//   DWS_NAME_PREFIX   container name prefix (default "basic")
//   DWS_ALERT_WEBHOOK_URL  where Alertmanager posts alerts (default: nowhere)
//   DWS_DB_TLS        "1": TLS between the apps, the exporters and the databases, and for replication
//   DWS_CODEBASE_DIR  the app's codebase (default: examples/app)
//   DWS_DB_WRITER     "primary" (default) or "replica": the database node that takes writes;
//                     changing it and deploying again is a planned switchover
//   DWS_LB_PAIR_SUBNET  e.g. "10.213.0.0/24": two load balancers sharing a floating IP (the
//                     subnet's 10th address) on the edge network, instead of published ports
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { DistributedWebStack } from '../../src';

interface ImageOverrides {
  haproxy?: string;
  nginx?: string;
  node?: string;
  mysql?: string;
  mariadb?: string;
  golang?: string;
  monitoring?: string;
}

class BasicStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const images: ImageOverrides = process.env.DWS_IMAGES_JSON ? JSON.parse(readFileSync(process.env.DWS_IMAGES_JSON, 'utf8')) : {};
    const engine = process.env.DWS_DB_ENGINE === 'mariadb' ? 'mariadb' : 'mysql';

    new DistributedWebStack(this, 'web', {
      namePrefix: process.env.DWS_NAME_PREFIX ?? 'basic',
      codebase: {
        directory: process.env.DWS_CODEBASE_DIR ?? join(__dirname, '..', 'app'),
        buildArgs: images.node ? { BASE_IMAGE: images.node } : {},
      },
      images: {
        haproxy: images.haproxy,
        nginx: images.nginx,
        database: images[engine],
        golang: images.golang,
        ...(images.monitoring ? { monitoring: monitoringImages(images.monitoring) } : {}),
      },
      loadBalancer: process.env.DWS_LB_PAIR_SUBNET
        ? { pair: { subnet: process.env.DWS_LB_PAIR_SUBNET } }
        : { publish: { address: '127.0.0.1', httpPort: Number(process.env.DWS_HTTP_PORT ?? 8080), httpsPort: Number(process.env.DWS_HTTPS_PORT ?? 8443) } },
      database: { engine, tls: process.env.DWS_DB_TLS === '1', writer: process.env.DWS_DB_WRITER === 'replica' ? 'replica' : 'primary' },
      monitoring: { receivers: process.env.DWS_ALERT_WEBHOOK_URL ? [{ webhook: { url: process.env.DWS_ALERT_WEBHOOK_URL } }] : [] },
    });
  }
}

function monitoringImages(name: string) {
  return { prometheus: name, alertmanager: name, mysqldExporter: name, nginxExporter: name, blackboxExporter: name, nodeExporter: name };
}

const app = new App();
new BasicStack(app, 'basic');
app.synth();
