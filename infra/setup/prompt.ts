import { emitKeypressEvents } from 'node:readline'

/**
 * Reads one line from the terminal without echoing it (a secret). Written by hand: node's readline
 * has no muted mode and a dependency for ~30 lines is not worth it. Resolves '' when input ends.
 */
export function promptHidden(
  question: string,
  input = process.stdin,
  output = process.stderr,
): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!input.isTTY) {
      reject(new Error('not a terminal'))
      return
    }
    output.write(question)
    emitKeypressEvents(input)
    input.setRawMode(true)
    input.resume()
    let value = ''
    const done = (result: string | null): void => {
      input.off('keypress', onKey)
      input.setRawMode(false)
      input.pause()
      output.write('\n')
      if (result === null) reject(new Error('cancelled'))
      else resolve(result)
    }
    const onKey = (str: string | undefined, key: { name?: string; ctrl?: boolean } | undefined): void => {
      if (key?.ctrl && key.name === 'c') done(null)
      else if (key?.name === 'return' || key?.name === 'enter') done(value)
      else if (key?.name === 'backspace') value = value.slice(0, -1)
      else if (str && !key?.ctrl) value += str
    }
    input.on('keypress', onKey)
  })
}
