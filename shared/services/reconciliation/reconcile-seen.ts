import { createHash } from 'node:crypto'

/**
 * The 32-bit hash a sweep records for an id it saw. Salted with the sweep id, so two ids that collide
 * in one sweep do not collide in the next. A collision can only make an unseen item look seen, which
 * delays its missing mark by one sweep; it never makes a listed item look absent.
 */
export function seenHash(sweepId: string, id: string): number {
  return createHash('sha1').update(sweepId).update('\u0000').update(id).digest().readUInt32LE(0)
}

/** The hashes of one list a sweep saw, sorted, for membership tests while stored digests stream past. */
export class SeenSet {
  private constructor(private readonly sorted: Uint32Array) {}

  /** The saved chunks plus the hashes not saved yet. */
  static async load(chunks: AsyncIterable<Uint8Array>, unsaved: readonly number[] = []): Promise<SeenSet> {
    const parts: Uint32Array[] = [Uint32Array.from(unsaved)]
    let size = unsaved.length
    for await (const chunk of chunks) {
      // A copy: a chunk's bytes need not be aligned for a Uint32Array view.
      const part = new Uint32Array(chunk.slice().buffer, 0, Math.floor(chunk.byteLength / 4))
      parts.push(part)
      size += part.length
    }
    const all = new Uint32Array(size)
    let at = 0
    for (const part of parts) {
      all.set(part, at)
      at += part.length
    }
    return new SeenSet(all.sort())
  }

  get size(): number {
    return this.sorted.length
  }

  /** Binary search (a typed array has no sorted lookup of its own). */
  has(hash: number): boolean {
    let lo = 0
    let hi = this.sorted.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = this.sorted[mid] as number
      if (v === hash) return true
      if (v < hash) lo = mid + 1
      else hi = mid - 1
    }
    return false
  }
}
