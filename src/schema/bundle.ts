// Turns the schemas/ files, which share definitions through cross-file $refs, into self-contained
// schemas: one per file for editors (`orch init` copies them), and one combined schema from which the
// TypeScript types are generated, so every shape is declared exactly once.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export type JsonSchema = { [key: string]: unknown };

const SCHEMA_SUFFIX = '.schema.json';

/** Reads every `*.schema.json` of a folder, keyed by file name. */
export function readSchemaDir(dir: string): Map<string, JsonSchema> {
  const files = new Map<string, JsonSchema>();
  for (const name of readdirSync(dir).filter(n => n.endsWith(SCHEMA_SUFFIX)).sort()) {
    files.set(name, JSON.parse(readFileSync(join(dir, name), 'utf8')) as JsonSchema);
  }
  return files;
}

/** Schemas of files orch reads or writes (common.schema.json only holds shared definitions). */
export function documentSchemaNames(files: Map<string, JsonSchema>): string[] {
  return [...files.keys()].filter(name => name !== 'common.schema.json');
}

class Bundler {
  readonly definitions: Record<string, JsonSchema> = {};
  private readonly origin = new Map<string, string>();

  private readonly files: Map<string, JsonSchema>;
  /** Simplify for the type generator (see rewrite). */
  private readonly forTypes: boolean;

  constructor(files: Map<string, JsonSchema>, forTypes = false) {
    this.files = files;
    this.forTypes = forTypes;
  }

  /** Copies what `ref` (seen in `file`) points at into the definitions; returns the local $ref. */
  private resolve(ref: string, file: string): string {
    const [target = '', pointer = ''] = ref.split('#');
    const targetFile = target === '' ? file : target;
    const schema = this.files.get(targetFile);
    if (schema === undefined) throw new Error(`${file}: $ref ${ref} names a schema file that does not exist`);
    let name: string;
    let body: unknown;
    if (pointer === '' || pointer === '/') {
      name = String(schema.title);
      const { $schema: _s, $id: _i, definitions: _d, ...rest } = schema;
      body = rest;
    } else {
      const match = /^\/definitions\/([^/]+)$/.exec(pointer);
      const defs = schema.definitions as Record<string, unknown> | undefined;
      if (match?.[1] === undefined || defs?.[match[1]] === undefined) {
        throw new Error(`${file}: $ref ${ref} does not point at a definition`);
      }
      name = match[1];
      body = defs[match[1]];
    }
    const key = `${targetFile}#${name}`;
    const seen = this.origin.get(name);
    if (seen === undefined) {
      this.origin.set(name, key);
      this.definitions[name] = {}; // placeholder first: definitions may refer to themselves
      this.definitions[name] = this.rewrite(body, targetFile) as JsonSchema;
    } else if (seen !== key) {
      throw new Error(`definition name ${name} is used by both ${seen} and ${key}: rename one`);
    }
    return `#/definitions/${name}`;
  }

  rewrite(node: unknown, file: string): unknown {
    if (Array.isArray(node)) return node.map(item => this.rewrite(item, file));
    if (node === null || typeof node !== 'object') return node;
    const out: JsonSchema = {};
    // For types: keywords beside a $ref (a description, say) would make the generator declare a copy
    // of the referenced type, and an anyOf that only says which fields are required (goal or title)
    // turns an interface into an index signature. Neither changes the TypeScript shape.
    const ref = (node as JsonSchema).$ref;
    if (this.forTypes && typeof ref === 'string') return { $ref: this.resolve(ref, file) };
    for (const [key, value] of Object.entries(node)) {
      if (this.forTypes && key === 'anyOf' && isRequiredOnly(value)) continue;
      out[key] = key === '$ref' && typeof value === 'string' ? this.resolve(value, file) : this.rewrite(value, file);
    }
    return out;
  }
}

function isRequiredOnly(value: unknown): boolean {
  return Array.isArray(value) && value.every(v => typeof v === 'object' && v !== null && Object.keys(v).join() === 'required');
}

/** One file's schema with everything it refers to copied into its own `definitions`. */
export function bundleSchema(files: Map<string, JsonSchema>, name: string): JsonSchema {
  const schema = files.get(name);
  if (schema === undefined) throw new Error(`no schema named ${name}`);
  const bundler = new Bundler(files);
  const { definitions: _d, ...top } = schema;
  const root = bundler.rewrite(top, name) as JsonSchema;
  // Pull in the file's own definitions even when nothing refers to them (they still name types).
  for (const defName of Object.keys((schema.definitions as object | undefined) ?? {})) {
    bundler.rewrite({ $ref: `${name}#/definitions/${defName}` }, name);
  }
  return { ...root, definitions: bundler.definitions };
}

/** Every document schema as a definition of one schema: each shape appears once in the types. */
export function combineSchemas(files: Map<string, JsonSchema>): JsonSchema {
  const bundler = new Bundler(files, true);
  for (const name of documentSchemaNames(files)) {
    bundler.rewrite({ $ref: name }, name);
    for (const defName of Object.keys((files.get(name)?.definitions as object | undefined) ?? {})) {
      bundler.rewrite({ $ref: `${name}#/definitions/${defName}` }, name);
    }
  }
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'OrchSchemas', definitions: bundler.definitions };
}
