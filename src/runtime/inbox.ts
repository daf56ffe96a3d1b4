// Inbox decisions (PRODUCT.md §8): a file a person (or `orch approve`) drops into inbox/ is applied
// once against the record rev it names, then consumed. Applying it raises the record's rev, so the same
// decision dropped twice, or found again after a crash between apply and consume, is refused: a
// decision is never applied twice, and never against a record the person did not see.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { InboxDecision, TaskRecord } from '../generated/types.js';
import { errnoCode } from '../errors.js';
import { decisionEvent, type TaskEvent } from '../machine/events.js';
import { listJsonFilesSync, loadDocument, toOrchError } from '../store/load.js';
import type { LogEntry } from '../runlog/run-log.js';
import { crashPoint } from '../testing/crash-points.js';

export interface InboxHost {
  inboxDir: string;
  /** The rev of task `id`'s record as the orchestrator knows it (a decision names the rev it was taken against). */
  record(id: string): Pick<TaskRecord, 'rev'> | undefined;
  apply(id: string, event: TaskEvent): Promise<TaskRecord | undefined>;
  log(entry: LogEntry): Promise<void>;
  reportInvalid(path: string, error: ReturnType<typeof toOrchError>): Promise<void>;
}

async function consume(path: string): Promise<void> {
  await fs.rm(path).catch((error: unknown) => {
    if (errnoCode(error) !== 'ENOENT') throw error;
  });
}

function describe(decision: InboxDecision): string {
  return `Decision ${decision.action} of task ${decision.task_id} by ${decision.actor}`;
}

/** Applies every decision file of the inbox, oldest first, each exactly once. */
export async function processInbox(host: InboxHost): Promise<void> {
  const files = listJsonFilesSync(host.inboxDir);
  const decisions: { path: string; doc: InboxDecision }[] = [];
  for (const name of files) {
    const path = join(host.inboxDir, name);
    try {
      decisions.push({ path, doc: (await loadDocument('decision', path)).doc });
    } catch (error) {
      // Invalid (or still being written): reported, kept, and looked at again when it changes.
      await host.reportInvalid(path, toOrchError(path, error));
    }
  }
  decisions.sort((a, b) => a.doc.created_at.localeCompare(b.doc.created_at));
  for (const { path, doc } of decisions) {
    const record = host.record(doc.task_id);
    if (record === undefined) {
      await host.log({ category: 'human_review', level: 'error', message: `${describe(doc)} refused: there is no such task`, data: { decision: doc.decision_id } });
    } else if (record.rev !== doc.against_rev) {
      await host.log({
        category: 'human_review',
        level: 'warning',
        task_id: doc.task_id,
        message: `${describe(doc)} refused: it was taken against rev ${doc.against_rev}, and the record is at rev ${record.rev} (already applied, or the task moved on)`,
        details: [`look again with \`orch show ${doc.task_id}\` and decide again`],
        data: { decision: doc.decision_id },
      });
    } else {
      const written = await host.apply(doc.task_id, decisionEvent(doc));
      if (written !== undefined && written.rev !== record.rev) {
        await host.log({
          category: 'human_review',
          level: 'info',
          task_id: doc.task_id,
          record_rev: written.rev,
          message: `${describe(doc)} applied against rev ${doc.against_rev}: now ${written.state}`,
          data: { decision: doc.decision_id },
        });
      }
    }
    crashPoint('inbox.before-consume');
    await consume(path);
    crashPoint('inbox.after-consume');
  }
}
