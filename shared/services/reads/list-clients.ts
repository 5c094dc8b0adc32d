import type { AppDeps } from '../../deps'
import type { ClientFilter } from '../../domain/filters'
import type { Page } from '../../domain/types'
import { type ClientView, toClientView } from './views'

/** Input of {@link listClients}: page and the optional upstream `status` and search `q` filters. */
export type ListClientsInput = ClientFilter & {
  limit: number
  cursor?: string
}

/** Lists stored clients, page by page, matching every given filter (status, search in names, email, payload). */
export async function listClients(
  deps: Pick<AppDeps, 'store'>,
  input: ListClientsInput,
): Promise<Page<ClientView>> {
  const page = await deps.store.clients.list(input)
  return { items: page.items.map(toClientView), nextCursor: page.nextCursor }
}
