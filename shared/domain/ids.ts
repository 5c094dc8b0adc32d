/**
 * The shape of every id in a management path or id filter (clients, channels): 1–128 characters of
 * `A-Z a-z 0-9 _ -`. Checked at the edge, before anything is read, counted or sent upstream.
 */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/

/** True when `value` is a well-formed id. */
export function isValidId(value: string): boolean {
  return ID_PATTERN.test(value)
}
