/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/machine/transitions.ts > TAP > the legal transition table, as a table > legal step transitions 1`] = `
Object {
  "COMPLETED": Array [
    "IMPLEMENTING",
    "PENDING",
  ],
  "FAILED": Array [
    "IMPLEMENTING",
    "PENDING",
  ],
  "IMPLEMENTING": Array [
    "REVIEWING",
    "COMPLETED",
    "FAILED",
    "PENDING",
  ],
  "PENDING": Array [
    "IMPLEMENTING",
    "REVIEWING",
    "COMPLETED",
    "FAILED",
  ],
  "REVIEWING": Array [
    "IMPLEMENTING",
    "COMPLETED",
    "FAILED",
    "PENDING",
  ],
}
`

exports[`test/machine/transitions.ts > TAP > the legal transition table, as a table > legal task transitions 1`] = `
NEW             → PLANNING(orch), PLAN_REVIEW(orch), IMPLEMENTING(orch), CODE_REVIEW(orch), QUALITY_GATE(orch), AWAITING_HUMAN(orch), DONE(orch), CANCELLED(orch|cli|human)
PLANNING        → PLAN_REVIEW(orch), PLAN_APPROVED(orch), AWAITING_HUMAN(orch), FAILED(orch), CANCELLED(orch|cli|human)
PLAN_REVIEW     → PLAN_APPROVED(orch), PLAN_REJECTED(orch), AWAITING_HUMAN(orch), FAILED(orch), CANCELLED(orch|cli|human)
PLAN_APPROVED   → IMPLEMENTING(orch), CODE_REVIEW(orch), QUALITY_GATE(orch), AWAITING_HUMAN(orch), DONE(orch), CANCELLED(orch|cli|human)
PLAN_REJECTED   → PLANNING(orch), PLAN_REVIEW(orch), AWAITING_HUMAN(orch), CANCELLED(orch|cli|human)
IMPLEMENTING    → CODE_REVIEW(orch), QUALITY_GATE(orch), AWAITING_HUMAN(orch), DONE(orch), FAILED(orch), CANCELLED(orch|cli|human)
CODE_REVIEW     → IMPLEMENTING(orch), QUALITY_GATE(orch), AWAITING_HUMAN(orch), DONE(orch), FAILED(orch), CANCELLED(orch|cli|human)
QUALITY_GATE    → IMPLEMENTING(orch), AWAITING_HUMAN(orch), DONE(orch), FAILED(orch), CANCELLED(orch|cli|human)
AWAITING_HUMAN  → PLANNING(cli|human), PLAN_REVIEW(cli|human), PLAN_APPROVED(cli|human), IMPLEMENTING(cli|human), CODE_REVIEW(cli|human), QUALITY_GATE(cli|human), FAILED(cli|human), CANCELLED(orch|cli|human)
DONE            → NEW(orch)
FAILED          → NEW(orch), PLANNING(cli|human), PLAN_REVIEW(cli|human), IMPLEMENTING(cli|human), CODE_REVIEW(cli|human), QUALITY_GATE(cli|human)
CANCELLED       → NEW(orch)
`
