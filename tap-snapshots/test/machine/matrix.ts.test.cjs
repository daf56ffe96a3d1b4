/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/machine/matrix.ts > TAP > every (state × event) pair has one outcome, legal moves only > state × event outcomes 1`] = `
NEW
  start             → PLANNING(orch) [run plan]
  attempt_started   recorded [stop]
  attempt_finished  no change
  deadline_passed   no change
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            → CANCELLED(cli)
  spec_changed      recorded
  spec_deleted      → CANCELLED(orch)
  hand_edit_found   no change
  worktree_planned  recorded
PLANNING
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded
  attempt_finished  → PLAN_REVIEW(orch) [run plan_review]
  deadline_passed   → FAILED(orch) [stop]
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            → CANCELLED(cli) [stop]
  spec_changed      recorded [stop, run plan]
  spec_deleted      → CANCELLED(orch) [stop]
  hand_edit_found   → AWAITING_HUMAN(orch)
  worktree_planned  recorded
PLAN_REVIEW
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded
  attempt_finished  → PLAN_APPROVED(orch) → AWAITING_HUMAN(orch)
  deadline_passed   → FAILED(orch) [stop]
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            → CANCELLED(cli) [stop]
  spec_changed      recorded [stop, run plan_review]
  spec_deleted      → CANCELLED(orch) [stop]
  hand_edit_found   → AWAITING_HUMAN(orch)
  worktree_planned  recorded
PLAN_APPROVED
  start             → AWAITING_HUMAN(orch)
  attempt_started   recorded [stop]
  attempt_finished  no change
  deadline_passed   no change
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            → CANCELLED(cli)
  spec_changed      recorded
  spec_deleted      → CANCELLED(orch)
  hand_edit_found   → AWAITING_HUMAN(orch)
  worktree_planned  recorded
PLAN_REJECTED
  start             → PLANNING(orch) [run plan]
  attempt_started   recorded [stop]
  attempt_finished  no change
  deadline_passed   no change
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            → CANCELLED(cli)
  spec_changed      recorded
  spec_deleted      → CANCELLED(orch)
  hand_edit_found   → AWAITING_HUMAN(orch)
  worktree_planned  recorded
IMPLEMENTING
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded
  attempt_finished  recorded [run step_review]
  deadline_passed   → FAILED(orch) [stop]
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            → CANCELLED(cli) [stop]
  spec_changed      recorded [stop, run implement]
  spec_deleted      → CANCELLED(orch) [stop]
  hand_edit_found   → AWAITING_HUMAN(orch)
  worktree_planned  recorded
CODE_REVIEW
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded
  attempt_finished  → QUALITY_GATE(orch) [run quality_gate]
  deadline_passed   → FAILED(orch) [stop]
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            → CANCELLED(cli) [stop]
  spec_changed      recorded [stop, run code_review]
  spec_deleted      → CANCELLED(orch) [stop]
  hand_edit_found   → AWAITING_HUMAN(orch)
  worktree_planned  recorded
QUALITY_GATE
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded
  attempt_finished  → DONE(orch)
  deadline_passed   → FAILED(orch) [stop]
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            → CANCELLED(cli) [stop]
  spec_changed      recorded [stop, run quality_gate]
  spec_deleted      → CANCELLED(orch) [stop]
  hand_edit_found   → AWAITING_HUMAN(orch)
  worktree_planned  recorded
AWAITING_HUMAN
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded [stop]
  attempt_finished  no change
  deadline_passed   no change
  approve           → IMPLEMENTING(cli) [run implement]
  reject            → FAILED(cli)
  retry             → IMPLEMENTING(cli) [run implement]
  replan            → PLANNING(cli) [run plan]
  cancel            → CANCELLED(cli)
  spec_changed      recorded
  spec_deleted      → CANCELLED(orch)
  hand_edit_found   recorded
  worktree_planned  recorded
DONE
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded [stop]
  attempt_finished  no change
  deadline_passed   no change
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            ✗ ORCH_ILLEGAL_TRANSITION
  spec_changed      → NEW(orch) → PLANNING(orch) [run plan]
  spec_deleted      no change
  hand_edit_found   no change
  worktree_planned  recorded
FAILED
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded [stop]
  attempt_finished  no change
  deadline_passed   no change
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             → PLANNING(cli) [run plan]
  replan            → PLANNING(cli) [run plan]
  cancel            ✗ ORCH_ILLEGAL_TRANSITION
  spec_changed      → NEW(orch) → PLANNING(orch) [run plan]
  spec_deleted      no change
  hand_edit_found   no change
  worktree_planned  recorded
CANCELLED
  start             ✗ ORCH_ILLEGAL_TRANSITION
  attempt_started   recorded [stop]
  attempt_finished  no change
  deadline_passed   no change
  approve           ✗ ORCH_ILLEGAL_TRANSITION
  reject            ✗ ORCH_ILLEGAL_TRANSITION
  retry             ✗ ORCH_ILLEGAL_TRANSITION
  replan            ✗ ORCH_ILLEGAL_TRANSITION
  cancel            ✗ ORCH_ILLEGAL_TRANSITION
  spec_changed      → NEW(orch) → PLANNING(orch) [run plan]
  spec_deleted      no change
  hand_edit_found   no change
  worktree_planned  recorded
`
