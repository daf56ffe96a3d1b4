// The library API of orch: run the engine over a state dir without the CLI, and the pieces a tool
// built on orch's files needs. Named re-exports only.
export { runOnce, startOrchestrator, openProject, type RunOptions, type RunResult, type Orchestrator } from './runtime/orchestrator.js';
export { decide, type DecideOptions, type DecideResult, type DecisionAction } from './runtime/decide.js';
export { transition, createRecord, currentPhase, nextPhase, type TaskEvent, type Effect, type TransitionContext } from './machine/transition.js';
export { resolveWorkflow, type ResolvedWorkflow } from './machine/workflow.js';
export { LEGAL_TRANSITIONS } from './machine/transitions.js';
export { OrchError, isOrchError, ERROR_CODES, EXIT, type OrchErrorCode } from './errors.js';
export { statePaths, findProjectRoot, type StatePaths } from './store/paths.js';
export { loadDocument, loadAll, validateDocument } from './store/load.js';
export { writeFileDurable } from './store/durable-write.js';
export type * from './generated/types.js';
