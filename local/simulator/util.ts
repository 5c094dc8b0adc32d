/** Small pure helpers shared by the simulator's modules: time stamps, ids, merging, randomness. */

/** ISO-8601 without milliseconds, the way the fixtures write timestamps. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Last second of the current UTC month: when a requested cancellation takes effect. */
export function endOfUtcMonth(now: Date): string {
  return isoSeconds(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0, 23, 59, 59))
}

/** `n` in `radix`, left-padded with zeros to `width` (deterministic ids and phone numbers). */
export function pad(n: number, width: number, radix = 10): string {
  return n.toString(radix).padStart(width, '0')
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Deep merge producing new objects (shared nested objects are never mutated); arrays are replaced. */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (!isPlainObject(patch) || !isPlainObject(base)) return (patch === undefined ? base : patch) as T
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key], value) : value
  }
  return out as T
}

/** Small deterministic PRNG (mulberry32) for demo-mode choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A stable number in [0, 1) for a string and a seed (FNV-1a, then one mulberry32 step). */
export function hashUnit(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return seededRandom(h)()
}
