// Typed access to the precompiled validators. The shapes come from the schemas (src/generated/):
// nothing here restates them.
//
// Each kind's validator is its own generated CommonJS module, required the first time that kind is
// validated: a command loads only the kinds it reads (the record validator alone is over 100 KB of
// code), and require() keeps validateDocument synchronous.
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import type { ErrorObject } from 'ajv';
import type {
  CommandResult,
  InboxDecision,
  OrchConfig,
  RecordIndex,
  RunEvent,
  RunSummaryFile,
  SessionRecord,
  StatusCache,
  TaskRecord,
  TaskSpec,
  WorkerRecord,
} from '../generated/types.js';

export interface Validator<T> {
  (data: unknown): data is T;
  errors?: ErrorObject[] | null;
}

const SCHEMA_SUFFIX = '.schema.json';

/** The generated module holding the validator of a schema file: `task-record.schema.json` → `validate-task-record.cjs`. */
export function validatorFileName(schema: string): string {
  return `validate-${schema.endsWith(SCHEMA_SUFFIX) ? schema.slice(0, -SCHEMA_SUFFIX.length) : schema}.cjs`;
}

const require = createRequire(import.meta.url);

/** A kind of file: its schema file, and its validator, loaded on first use and kept. */
export interface KindInfo<T> {
  readonly schema: string;
  readonly validate: Validator<T>;
}

function fileKind<T>(schema: string): KindInfo<T> {
  let loaded: Validator<T> | undefined;
  return {
    schema,
    get validate(): Validator<T> {
      if (loaded === undefined) {
        const file = `../generated/${validatorFileName(schema)}`;
        try {
          loaded = (require(file) as { validate: Validator<T> }).validate;
        } catch (error) {
          // A build that did not copy src/generated/*.cjs (see "build" in package.json).
          throw new Error(`the validator of ${schema} (${file}) cannot be loaded: ${(error as Error).message}`, { cause: error });
        }
      }
      return loaded;
    },
  };
}

/** `$schema` for a file of `kind` at `filePath`: e.g. state/tasks/x.json → "../../schemas/task-record.schema.json". */
export function schemaRef(kind: FileKind, filePath: string, stateDir: string): string {
  return relative(dirname(filePath), join(stateDir, 'schemas', FILE_KINDS[kind].schema)).split(sep).join('/');
}

/** Every kind of file orch reads or writes, with its schema file, validator and current version. */
export const FILE_KINDS = {
  config: fileKind<OrchConfig>('config.schema.json'),
  spec: fileKind<TaskSpec>('task-spec.schema.json'),
  record: fileKind<TaskRecord>('task-record.schema.json'),
  worker: fileKind<WorkerRecord>('worker.schema.json'),
  session: fileKind<SessionRecord>('session.schema.json'),
  decision: fileKind<InboxDecision>('inbox-decision.schema.json'),
  result: fileKind<CommandResult>('command-result.schema.json'),
  event: fileKind<RunEvent>('event.schema.json'),
  cache: fileKind<StatusCache>('status-cache.schema.json'),
  summary: fileKind<RunSummaryFile>('run-summary.schema.json'),
  index: fileKind<RecordIndex>('record-index.schema.json'),
} as const;

export type FileKind = keyof typeof FILE_KINDS;

export interface KindShapes {
  config: OrchConfig;
  spec: TaskSpec;
  record: TaskRecord;
  worker: WorkerRecord;
  session: SessionRecord;
  decision: InboxDecision;
  result: CommandResult;
  event: RunEvent;
  cache: StatusCache;
  summary: RunSummaryFile;
  index: RecordIndex;
}

/** The schema version this build writes, per kind. Older versions are migrated on load. */
export const CURRENT_VERSION: { [K in FileKind]: number } = {
  config: 1,
  spec: 1,
  record: 1,
  worker: 1,
  session: 1,
  decision: 1,
  result: 1,
  event: 1,
  cache: 1,
  summary: 1,
  index: 1,
};

/** The TaskId pattern of schemas/common.schema.json, recognised to explain a refused id in words. */
const TASK_ID_PATTERN = '^(?!\\.)[A-Za-z0-9._-]{1,64}$';

/** One schema problem: where (a JSON path such as `/workflows/default/plan/command`) and what. */
export interface SchemaProblem {
  path: string;
  message: string;
}

/** Ajv's errors as one readable problem each. */
export function schemaProblems(errors: ErrorObject[] | null | undefined): SchemaProblem[] {
  return (errors ?? []).map(error => {
    const path = error.instancePath === '' ? '/' : error.instancePath;
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'additionalProperties') {
      return { path, message: `unknown field "${String(params.additionalProperty)}"` };
    }
    if (error.keyword === 'pattern' && params.pattern === TASK_ID_PATTERN) {
      return { path, message: 'is not a valid id: use 1 to 64 of A-Z a-z 0-9 . _ - , not starting with a dot' };
    }
    if (error.keyword === 'required') return { path, message: `missing field "${String(params.missingProperty)}"` };
    if (error.keyword === 'enum') {
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(', ')}` };
    }
    return { path, message: error.message ?? error.keyword };
  });
}
