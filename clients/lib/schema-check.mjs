// The breaking-change check: graphql-js's findBreakingChanges between the last released
// schema and the branch's. A breaking change passes only when it is listed, with a reason,
// in breaking-changes-accepted.txt.
import { buildSchema, findBreakingChanges, findDangerousChanges } from 'graphql';

const SEPARATOR = ' :: ';

/**
 * Reads the accepted list: one entry a line, `<description> :: <reason>`, where the
 * description is findBreakingChanges' text exactly (`Query.foo was removed.`). `#` starts
 * a comment line. Throws on an entry without a reason: accepting a break needs one.
 */
export function parseAccepted(text) {
  const entries = new Map();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = line.indexOf(SEPARATOR);
    const description = at < 0 ? line : line.slice(0, at).trim();
    const reason = at < 0 ? '' : line.slice(at + SEPARATOR.length).trim();
    if (!description || !reason) {
      throw new Error(
        `breaking-changes-accepted.txt line ${index + 1}: expected "<description> :: <reason>", got "${line}"`,
      );
    }
    entries.set(description, reason);
  });
  return entries;
}

/**
 * Compares two SDL texts. `unaccepted` are the breaking changes that fail the check;
 * `stale` are accepted entries that match no change (left over after a release).
 */
export function checkSchemas(releasedSdl, currentSdl, acceptedText = '') {
  const accepted = parseAccepted(acceptedText);
  const released = buildSchema(releasedSdl);
  const current = buildSchema(currentSdl);
  const breaking = findBreakingChanges(released, current);
  const dangerous = findDangerousChanges(released, current);
  const seen = new Set(breaking.map((c) => c.description));
  return {
    breaking: breaking.map((c) => ({
      ...c,
      accepted: accepted.has(c.description),
      reason: accepted.get(c.description),
    })),
    unaccepted: breaking.filter((c) => !accepted.has(c.description)),
    dangerous,
    stale: [...accepted.keys()].filter((d) => !seen.has(d)),
  };
}
