import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { image } from '@cdktf/provider-docker';
import { Construct } from 'constructs';
import { shortHash } from './docker';

/** The pinned official images the library uses unless told otherwise. */
export const DEFAULT_IMAGES = {
  haproxy: 'haproxy:3.0',
  nginx: 'nginx:1.27',
  mysql: 'mysql:8.4',
  mariadb: 'mariadb:11.4',
  /** The failover agent is compiled in it. */
  golang: 'golang:1.24',
} as const;

/**
 * An image from a registry (or already on the Docker host). Kept on destroy: other stacks on the
 * same host may use it, and a present image is never pulled again.
 */
export function registryImage(scope: Construct, id: string, name: string): image.Image {
  return new image.Image(scope, id, { name, keepLocally: true });
}

/** Files that never belong in an image's content hash. */
const IGNORED = new Set(['node_modules', '.git', 'cdktf.out', '.terraform']);

/** A stable hash of a directory's files (paths and contents), so a change rebuilds its image. */
export function hashDirectory(dir: string): string {
  const root = resolve(dir);
  const files: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (IGNORED.has(entry.name)) continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) files.push(p);
    }
  };
  walk(root);
  files.sort();
  return shortHash(...files.flatMap((f) => [relative(root, f), readFileSync(f).toString('base64')]));
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
