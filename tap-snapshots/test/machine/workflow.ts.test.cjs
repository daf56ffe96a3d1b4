/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/machine/workflow.ts > TAP > the workflow defaults are the documented ones > workflow defaults 1`] = `
Object {
  "DEFAULT_MAX_INTERRUPTIONS": 3,
  "DEFAULT_MAX_PLAN_REJECTIONS": 2,
  "DEFAULT_NO_PROGRESS_LIMIT": 3,
}
`
