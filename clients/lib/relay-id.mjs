// Relay global ids as the service writes them: base64url, without padding, of
// `TypeName:uuid` (`Image:0192...`). The suite only needs them to make well-formed ids
// of objects that do not exist, and to read the type back out of an id.

export function globalId(typeName, uuid) {
  return Buffer.from(`${typeName}:${uuid}`, 'utf8').toString('base64url');
}

/** `{ typeName, uuid }`, or null when `id` is not base64url of `TypeName:uuid`. */
export function parseGlobalId(id) {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]+$/.test(id)) return null;
  const match =
    /^([A-Za-z][A-Za-z0-9]*):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(
      Buffer.from(id, 'base64url').toString('utf8'),
    );
  return match ? { typeName: match[1], uuid: match[2] } : null;
}

/** A fresh, random UUIDv7 (time-ordered, as the service's ids are). */
export function uuidv7() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
