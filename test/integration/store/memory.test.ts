import { describe } from 'vitest'
import { MemoryStore } from '../../fakes/memory-store'
import { storeContract } from './store-contract'

describe('StateStore contract: MemoryStore fake', () => {
  storeContract(async () => new MemoryStore())
})
