/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/retry/backoff.ts > TAP > exponential waits base × 2^(attempt−1), capped at max, for attempts 1 to 10 > exponential delays with a stub random 1`] = `
Array [
  Object {
    "delays": Array [
      800,
      1600,
      3200,
      6400,
      12800,
      25600,
      48000,
      48000,
      48000,
      48000,
    ],
    "random": 0,
  },
  Object {
    "delays": Array [
      1000,
      2000,
      4000,
      8000,
      16000,
      32000,
      60000,
      60000,
      60000,
      60000,
    ],
    "random": 0.5,
  },
  Object {
    "delays": Array [
      1200,
      2400,
      4800,
      9600,
      19200,
      38400,
      60000,
      60000,
      60000,
      60000,
    ],
    "random": 1,
  },
]
`

exports[`test/retry/backoff.ts > TAP > the default tunables are the documented ones > default retry tunables 1`] = `
Object {
  "DEFAULT_NON_RETRYABLE_EXIT_CODES": Array [
    126,
    127,
  ],
  "DEFAULT_NON_RETRYABLE_PATTERNS": Array [
    "authentication[ _-]?(error|failed|failure|required)",
    "unauthori[sz]ed",
    "invalid[ _-]?(api[ _-]?key|x-api-key|token|credentials)",
    "permission[ _-]?denied",
    "forbidden",
    "not[ _-]?found",
    "bad[ _-]?request",
    "invalid[ _-]?request[ _-]?error",
    "validation[ _-]?(error|failed)",
  ],
  "DEFAULT_RATE_LIMIT_PATTERNS": Array [
    "\\\\b429\\\\b",
    "rate[ _-]?limit",
    "usage[ _-]?limit",
    "too[ _-]?many[ _-]?requests",
    "quota[ _-]?exceeded",
    "resource[ _-]?exhausted",
  ],
  "DEFAULT_RETRY": Object {
    "base_delay_s": 1,
    "jitter": 0.2,
    "max_attempts": 3,
    "max_delay_s": 60,
    "non_retryable": Object {
      "exit_codes": Array [
        126,
        127,
      ],
      "patterns": Array [
        "authentication[ _-]?(error|failed|failure|required)",
        "unauthori[sz]ed",
        "invalid[ _-]?(api[ _-]?key|x-api-key|token|credentials)",
        "permission[ _-]?denied",
        "forbidden",
        "not[ _-]?found",
        "bad[ _-]?request",
        "invalid[ _-]?request[ _-]?error",
        "validation[ _-]?(error|failed)",
      ],
    },
    "rate_limit": Object {
      "exit_codes": Array [],
      "patterns": Array [
        "\\\\b429\\\\b",
        "rate[ _-]?limit",
        "usage[ _-]?limit",
        "too[ _-]?many[ _-]?requests",
        "quota[ _-]?exceeded",
        "resource[ _-]?exhausted",
      ],
    },
    "stall_timeout_s": undefined,
    "strategy": "exponential",
    "timeout_s": 1800,
  },
  "RATE_LIMIT_FALLBACK_MS": 60000,
}
`
