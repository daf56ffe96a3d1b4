// Typed access to the precompiled validators. The shapes come from the schemas (src/generated/):
// nothing here restates them.
import type { ErrorObject } from 'ajv';
import * as generated from '../generated/validators.js';
import type {
  CommandResult,
  InboxDecision,
  OrchConfig,
  RunEvent,
  SessionRecord,
  TaskRecord,
  TaskSpec,
  WorkerRecord,
} from '../generated/types.js';

export interface Validator<T> {
  (data: unknown): data is T;
  errors?: ErrorObject[] | null;
}

/** Every kind of file orch reads, with its schema file, validator and current version. */
export const FILE_KINDS = {
  config: { schema: 'config.schema.json', validate: generated.validateOrchConfig as Validator<OrchConfig> },
  spec: { schema: 'task-spec.schema.json', validate: generated.validateTaskSpec as Validator<TaskSpec> },
  record: { schema: 'task-record.schema.json', validate: generated.validateTaskRecord as Validator<TaskRecord> },
  worker: { schema: 'worker.schema.json', validate: generated.validateWorkerRecord as Validator<WorkerRecord> },
  session: { schema: 'session.schema.json', validate: generated.validateSessionRecord as Validator<SessionRecord> },
  decision: { schema: 'inbox-decision.schema.json', validate: generated.validateInboxDecision as Validator<InboxDecision> },
  result: { schema: 'command-result.schema.json', validate: generated.validateCommandResult as Validator<CommandResult> },
  event: { schema: 'event.schema.json', validate: generated.validateRunEvent as Validator<RunEvent> },
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
