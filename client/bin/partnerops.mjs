#!/usr/bin/env node
// The `partnerops` command. The client is TypeScript run through tsx (the repository has no build
// step), so this launcher registers tsx's loader and hands over to the CLI.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
