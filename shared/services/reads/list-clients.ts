import type { AppDeps } from '../../deps'
import type { Page } from '../../domain/types'
import { type ClientView, toClientView } from './views'

/** Input of {@link listClients}: page and the optional upstream `status` filter. */
export interface ListClientsInput {
  status?: string
  limit: number
  cursor?: string
}

/** Lists stored clients, page by page, optionally only those with one upstream status. */
export async function listClients(
  deps: Pick<AppDeps, 'store'>,
  input: ListClientsInput,
): Promise<Page<ClientView>> {
  const page = await deps.store.clients.list(input)
  return { items: page.items.map(toClientView), nextCursor: page.nextCursor }
}
