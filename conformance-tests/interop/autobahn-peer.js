// A remote-controlled autobahn-js client for the interop tests (the Python twin is autobahn_peer.py; both speak
// the same line protocol, so one Kotlin driver runs either).
//
//   node autobahn-peer.js --url ws://127.0.0.1:PORT/ --realm realm1 [--serializer json|msgpack|cbor]
//
// --url may be tcp://HOST:PORT for autobahn-js's RawSocket transport (JSON only in autobahn-js).
// Standard output carries one JSON object per line: {"event":"joined",...} once the session is open, then the
// replies to commands ({"id":N,"ok":true,...} or {"id":N,"ok":false,"error":URI,"args":[],"kwargs":{}}) and
// notifications ({"event":"invocation"|"event"|"left",...}). Standard input carries one command per line:
//   {"id":N,"op":"register","procedure":P,"behaviour":"echo"|"error"|"progress","options":{},"error":URI}
//   {"id":N,"op":"unregister","procedure":P}
//   {"id":N,"op":"call","procedure":P,"args":[],"kwargs":{},"options":{},"progress":true}
//   {"id":N,"op":"subscribe","topic":T,"options":{}}
//   {"id":N,"op":"unsubscribe","topic":T}
//   {"id":N,"op":"publish","topic":T,"args":[],"kwargs":{},"options":{}}
//   {"id":N,"op":"leave"}
// Binary values travel through the JSON lines as {"$bytes": BASE64}. The peer exits when its input closes.
'use strict'

const autobahn = require('autobahn')
const readline = require('readline')

function arg (name, fallback) {
  const at = process.argv.indexOf('--' + name)
  return at >= 0 ? process.argv[at + 1] : fallback
}

const url = arg('url')
const realm = arg('realm', 'realm1')
const serializerName = arg('serializer', 'json')

function write (obj) {
  process.stdout.write(JSON.stringify(toWire(obj)) + '\n')
}

// Buffers out as {"$bytes": base64}; {"$bytes": ...} in as Buffers.
function toWire (v) {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') }
  if (Array.isArray(v)) return v.map(toWire)
  if (v !== null && typeof v === 'object') {
    const out = {}
    for (const k of Object.keys(v)) if (typeof v[k] !== 'function' && v[k] !== undefined) out[k] = toWire(v[k])
    return out
  }
  return v
}

function fromWire (v) {
  if (Array.isArray(v)) return v.map(fromWire)
  if (v !== null && typeof v === 'object') {
    if (typeof v.$bytes === 'string' && Object.keys(v).length === 1) return Buffer.from(v.$bytes, 'base64')
    const out = {}
    for (const k of Object.keys(v)) out[k] = fromWire(v[k])
    return out
  }
  return v
}

function serializers () {
  switch (serializerName) {
    case 'json': return [new autobahn.serializer.JSONSerializer()]
    case 'msgpack': return [new autobahn.serializer.MsgpackSerializer()]
    case 'cbor': return [new autobahn.serializer.CBORSerializer()]
    default: throw new Error('unknown serializer ' + serializerName)
  }
}

const transport = url.startsWith('tcp://')
  ? { type: 'rawsocket', host: new URL(url).hostname, port: Number(new URL(url).port), protocols: ['wamp.2.json'] }
  : { type: 'websocket', url, serializers: serializers(), protocols: ['wamp.2.' + serializerName] }

const connection = new autobahn.Connection({
  transports: [transport],
  realm,
  max_retries: 0,
  initial_retry_delay: 0.1
})

let session = null
const registrations = new Map()
const subscriptions = new Map()

function errorReply (id, e) {
  if (e instanceof autobahn.Error) {
    return { id, ok: false, error: e.error, args: e.args || [], kwargs: e.kwargs || {} }
  }
  return { id, ok: false, error: 'peer.exception', args: [String(e && e.stack ? e.stack : e)], kwargs: {} }
}

function invocationDetails (details) {
  return {
    procedure: details.procedure,
    caller: details.caller,
    caller_authid: details.caller_authid,
    caller_authrole: details.caller_authrole,
    receive_progress: typeof details.progress === 'function'
  }
}

function endpoint (cmd) {
  return function (args, kwargs, details) {
    args = args || []
    kwargs = kwargs || {}
    write({ event: 'invocation', registered: cmd.procedure, args, kwargs, details: invocationDetails(details) })
    switch (cmd.behaviour) {
      case 'echo':
        return new autobahn.Result(args, kwargs)
      case 'error':
        throw new autobahn.Error(cmd.error, args, kwargs)
      case 'progress': {
        // args [n]: n progressive results [i, "step"], then the final ["done", n]
        const n = args[0]
        for (let i = 0; i < n; i++) if (details.progress) details.progress([i, 'step'], { step: i })
        return new autobahn.Result(['done', n], {})
      }
      default:
        throw new autobahn.Error('peer.unknown_behaviour', [cmd.behaviour])
    }
  }
}

async function handle (cmd) {
  const id = cmd.id
  try {
    switch (cmd.op) {
      case 'register': {
        const reg = await session.register(cmd.procedure, endpoint(cmd), cmd.options || {})
        registrations.set(cmd.procedure, reg)
        return { id, ok: true, registration: reg.id }
      }
      case 'unregister':
        await session.unregister(registrations.get(cmd.procedure))
        registrations.delete(cmd.procedure)
        return { id, ok: true }
      case 'call': {
        const progress = []
        const options = Object.assign({}, cmd.options || {})
        if (cmd.progress) options.receive_progress = true
        const res = await session.call(cmd.procedure, cmd.args || [], cmd.kwargs || {}, options)
          .then((r) => r, (e) => { throw e }, (p) => { progress.push({ args: p.args || [], kwargs: p.kwargs || {} }) })
        if (res instanceof autobahn.Result) return { id, ok: true, args: res.args || [], kwargs: res.kwargs || {}, progress }
        // autobahn-js unwraps a result of exactly one positional argument and no kwargs
        return { id, ok: true, args: res === undefined || res === null ? [] : [res], kwargs: {}, progress }
      }
      case 'subscribe': {
        const topic = cmd.topic
        const sub = await session.subscribe(topic, (args, kwargs, details) => {
          write({
            event: 'event',
            subscribed: topic,
            args: args || [],
            kwargs: kwargs || {},
            details: {
              topic: details.topic,
              publication: details.publication,
              publisher: details.publisher,
              publisher_authid: details.publisher_authid,
              publisher_authrole: details.publisher_authrole
            }
          })
        }, cmd.options || {})
        subscriptions.set(topic, sub)
        return { id, ok: true, subscription: sub.id }
      }
      case 'unsubscribe':
        await session.unsubscribe(subscriptions.get(cmd.topic))
        subscriptions.delete(cmd.topic)
        return { id, ok: true }
      case 'publish': {
        const pub = await session.publish(cmd.topic, cmd.args || [], cmd.kwargs || {}, cmd.options || {})
        return { id, ok: true, publication: pub ? pub.id : null }
      }
      case 'leave':
        connection.close('wamp.close.normal', 'done')
        return { id, ok: true }
      default:
        return { id, ok: false, error: 'peer.unknown_op', args: [cmd.op], kwargs: {} }
    }
  } catch (e) {
    return errorReply(id, e)
  }
}

connection.onopen = function (s) {
  session = s
  write({ event: 'joined', session: s.id, serializer: serializerName })
  const lines = readline.createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (!line.trim()) return
    let cmd
    try {
      cmd = fromWire(JSON.parse(line))
    } catch (e) {
      write({ event: 'bad_command', line })
      return
    }
    handle(cmd).then(write, (e) => write(errorReply(cmd.id, e)))
  })
  lines.on('close', () => process.exit(0))
}

connection.onclose = function (reason, details) {
  write({ event: 'left', reason, details: { reason: details && details.reason, message: details && details.message } })
  // A session that never opened, or that the router ended, ends the peer: the test reads why from "left".
  setTimeout(() => process.exit(0), 50)
  return true
}

connection.open()
