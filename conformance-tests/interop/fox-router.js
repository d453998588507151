// Starts a fox-wamp router on 127.0.0.1 with an ephemeral port for the interop tests and prints one JSON line,
// {"port": N}, once it listens. Realms are created on demand (names must match [a-z0-9_]). With
// `--ticket AUTHID:TICKET` every session must log in with WAMP ticket authentication as that user.
// The router exits when its standard input closes, so it never outlives the test that started it.
'use strict'

const FoxRouter = require('fox-wamp')

const args = process.argv.slice(2)
const ticketAt = args.indexOf('--ticket')
const ticket = ticketAt >= 0 ? args[ticketAt + 1] : null

let authHandler
if (ticket) {
  const [authid, secret] = [ticket.slice(0, ticket.indexOf(':')), ticket.slice(ticket.indexOf(':') + 1)]
  authHandler = {
    getAuthMethods: () => ['ticket'],
    ticket_auth: (realm, details, signature, extra, callback) => {
      if (details.authid === authid && signature === secret) callback(undefined, { role: 'user' })
      else callback(new Error('authentication failed'))
    }
  }
}

const router = new FoxRouter()
const server = router.listenWAMP({ host: '127.0.0.1', port: 0 }, authHandler)
server.on('listening', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})
server.on('error', (e) => {
  process.stderr.write('fox-wamp: ' + e.stack + '\n')
  process.exit(2)
})
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
