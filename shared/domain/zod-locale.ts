import { config } from 'zod/mini'
import en from 'zod/v4/locales/en.js'

/**
 * The schemas of the Lambda code use `zod/mini`: the same validation core as `zod`, with functions
 * instead of methods, so a bundle holds only the parts it uses. Importing `zod` cost 5–7 ms of CPU
 * at every cold start (its classes and methods are evaluated at import), `zod/mini` about 1.5
 * (`npm run bench -- cold-start`, README "Performance").
 *
 * `zod/mini` comes without messages (every issue says "Invalid input"); this installs the English
 * ones that `zod` installs, so validation errors, rejection reasons and quarantine reasons read as
 * before. Every module that builds a schema imports this file.
 */
config(en())
