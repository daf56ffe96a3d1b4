// `orch serve [--port N] [--open]`: the local API and live events over the state dir (src/serve/,
// specs/serve.md), until Ctrl-C or SIGTERM. It prints where it listens and where the token is; with
// --open, the one-time link that gives a browser its session.
import { relative, resolve } from 'node:path';
import { OrchError } from '../../errors.js';
import { serveFile, startServer } from '../../serve/server.js';
import { projectPaths } from '../context.js';
import { printJson, println, type GlobalOptions } from '../output.js';

export interface ServeCommandOptions extends GlobalOptions {
  port?: string;
  socket?: string;
  open?: boolean;
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new OrchError('ORCH_USAGE', `--port ${JSON.stringify(value)} is not a port`, { hint: 'a whole number from 1 to 65535, or 0 for a free one' });
  return port;
}

export async function serveCommand(options: ServeCommandOptions): Promise<number> {
  const paths = projectPaths(options);
  if (options.socket !== undefined && options.port !== undefined) throw new OrchError('ORCH_USAGE', '--port and --socket do not go together', { hint: 'listen on a port or on a unix socket' });
  const server = await startServer(paths, options.socket !== undefined ? { socket: resolve(options.socket) } : { port: parsePort(options.port) });
  const tokenFile = relative(process.cwd(), serveFile(paths)) || serveFile(paths);
  if (options.json === true) printJson({ url: server.url, port: server.port, serve_file: serveFile(paths), ...(options.open === true && { link: server.link() }) });
  else {
    println(`orch serve: ${server.url} (API at ${server.url}api/v1; token in ${tokenFile}, mode 0600)`);
    if (options.open === true) println(`open once in your browser: ${server.link() ?? server.newLink()}`);
    println('Ctrl-C stops it.');
  }
  await new Promise<void>(resolve => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}
