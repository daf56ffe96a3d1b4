// The floor for reading a state dir: readdir, then read and JSON.parse every *.json of the given
// folders, keeping the parsed documents (as a status listing must). Run: node read-all.mjs DIR...
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const docs = [];
for (const dir of process.argv.slice(2)) {
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.json') && !name.startsWith('.')) docs.push(JSON.parse(readFileSync(join(dir, name), 'utf8')));
  }
}
process.stdout.write(`${docs.length}\n`);
