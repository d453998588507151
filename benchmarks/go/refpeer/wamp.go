package main

// /wamp: a minimal WAMP v2 router over WebSocket with the JSON serialization (subprotocol wamp.2.json, one
// message per text frame; specs/wamp.md), for RPC only. Any realm is open to anonymous sessions.
//
//	HELLO [1, realm, details]            -> WELCOME [2, session, {authid, authrole, authmethod, authprovider, roles}]
//	                                        (roles: dealer with progressive_call_results, broker with no features)
//	REGISTER [64, req, opts, proc]       -> REGISTERED [65, req, registration]
//	                                        (or ERROR wamp.error.procedure_already_exists; bench.echo is reserved)
//	UNREGISTER [66, req, registration]   -> UNREGISTERED [67, req] (or ERROR wamp.error.no_such_registration)
//	CALL [48, req, opts, proc, args?, kwargs?]
//	    proc bench.echo                  -> RESULT [50, req, {}, args?, kwargs?] from the router itself
//	    a registered proc                -> INVOCATION [68, invocation, registration, {}, args?, kwargs?] to its callee;
//	                                        YIELD [70, invocation, opts, args?, kwargs?] -> RESULT [50, req, {}, ...]
//	                                        (opts.progress -> RESULT details {progress: true}, the call stays open);
//	                                        ERROR [8, 68, invocation, details, uri, ...] -> ERROR [8, 48, req, ...]
//	    anything else                    -> ERROR [8, 48, req, {}, wamp.error.no_such_procedure]
//	CANCEL [49, req, opts]               -> ERROR [8, 48, req, {}, wamp.error.canceled] (mode skip: the callee is not
//	                                        interrupted and its late YIELD is dropped)
//	GOODBYE [6, details, reason]         -> GOODBYE [6, {}, wamp.close.goodbye_and_out], then the socket closes
//	SUBSCRIBE, UNSUBSCRIBE, PUBLISH with acknowledge -> ERROR wamp.error.feature_not_supported
//
// A callee that leaves takes its registrations with it, and its open invocations fail with ERROR
// wamp.error.canceled to their callers. A message that is not a JSON array with an integer type first, or a
// HELLO after the session began, ends the session with ABORT wamp.error.protocol_violation. Routing is done on the
// caller's and callee's read loops; writes to a session are serialised.

import (
	"encoding/json"
	"math/rand"
	"net/http"
	"strconv"
	"sync"

	"github.com/gorilla/websocket"
)

const (
	wampHello        = 1
	wampWelcome      = 2
	wampAbort        = 3
	wampGoodbye      = 6
	wampError        = 8
	wampPublish      = 16
	wampSubscribe    = 32
	wampUnsubscribe  = 34
	wampCall         = 48
	wampCancel       = 49
	wampResult       = 50
	wampRegister     = 64
	wampRegistered   = 65
	wampUnregister   = 66
	wampUnregistered = 67
	wampInvocation   = 68
	wampYield        = 70
	wampEchoProc     = "bench.echo"
)

var wampUpgrader = websocket.Upgrader{ReadBufferSize: 64 * 1024, WriteBufferSize: 64 * 1024, Subprotocols: []string{"wamp.2.json"}}

type wampSession struct {
	id   int64
	conn *lockedConn
}

func (s *wampSession) send(msg ...interface{}) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return s.conn.write(websocket.TextMessage, b)
}

type wampRegistration struct {
	id     int64
	proc   string
	callee *wampSession
}

type wampInvocationEntry struct {
	caller *wampSession
	req    int64
	callee *wampSession
}

type wampRouter struct {
	mu          sync.Mutex
	nextID      int64
	procs       map[string]*wampRegistration
	regs        map[int64]*wampRegistration
	invocations map[int64]*wampInvocationEntry
	calls       map[*wampSession]map[int64]int64 // caller -> call request id -> invocation id
}

func newWampRouter() *wampRouter {
	return &wampRouter{
		procs:       map[string]*wampRegistration{},
		regs:        map[int64]*wampRegistration{},
		invocations: map[int64]*wampInvocationEntry{},
		calls:       map[*wampSession]map[int64]int64{},
	}
}

func (r *wampRouter) id() int64 {
	r.nextID++
	return r.nextID
}

// tail returns the optional args and kwargs elements of a message from index i on (as they came).
func tail(m []json.RawMessage, i int) []interface{} {
	var out []interface{}
	for ; i < len(m) && i < 7; i++ {
		out = append(out, m[i])
	}
	return out
}

func (r *wampRouter) serve(w http.ResponseWriter, req *http.Request) {
	c, err := wampUpgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	defer c.Close()
	if c.Subprotocol() != "wamp.2.json" {
		closeWith(c, websocket.CloseProtocolError, "wamp.2.json required")
		return
	}
	c.SetReadLimit(16 << 20)
	me := &wampSession{id: rand.Int63n(1<<53) + 1, conn: &lockedConn{c: c}}
	joined := false
	defer r.leave(me)
	for {
		kind, data, err := c.ReadMessage()
		if err != nil || kind != websocket.TextMessage {
			return
		}
		var m []json.RawMessage
		var code int
		if json.Unmarshal(data, &m) != nil || len(m) == 0 || json.Unmarshal(m[0], &code) != nil {
			me.send(wampAbort, map[string]interface{}{"message": "not a WAMP message"}, "wamp.error.protocol_violation")
			return
		}
		if !joined {
			if code != wampHello || len(m) < 3 {
				me.send(wampAbort, map[string]interface{}{"message": "HELLO first"}, "wamp.error.protocol_violation")
				return
			}
			joined = true
			err = me.send(wampWelcome, me.id, map[string]interface{}{
				"authid":       strconv.FormatInt(me.id, 10),
				"authrole":     "anonymous",
				"authmethod":   "anonymous",
				"authprovider": "static",
				"roles": map[string]interface{}{
					"dealer": map[string]interface{}{"features": map[string]bool{"progressive_call_results": true}},
					"broker": map[string]interface{}{"features": map[string]bool{}},
				},
			})
			if err != nil {
				return
			}
			continue
		}
		var reqID int64
		if len(m) > 1 {
			json.Unmarshal(m[1], &reqID)
		}
		switch code {
		case wampCall:
			if len(m) < 4 {
				return
			}
			var proc string
			json.Unmarshal(m[3], &proc)
			err = r.call(me, reqID, proc, m)
		case wampYield:
			err = r.yield(me, reqID, m)
		case wampError:
			err = r.calleeError(me, m)
		case wampCancel:
			err = r.cancel(me, reqID)
		case wampRegister:
			if len(m) < 4 {
				return
			}
			var proc string
			json.Unmarshal(m[3], &proc)
			err = r.register(me, reqID, proc)
		case wampUnregister:
			var regID int64
			if len(m) > 2 {
				json.Unmarshal(m[2], &regID)
			}
			err = r.unregister(me, reqID, regID)
		case wampGoodbye:
			me.send(wampGoodbye, map[string]interface{}{}, "wamp.close.goodbye_and_out")
			return
		case wampSubscribe, wampUnsubscribe:
			err = me.send(wampError, code, reqID, map[string]interface{}{}, "wamp.error.feature_not_supported")
		case wampPublish:
			var opts map[string]interface{}
			if len(m) > 2 {
				json.Unmarshal(m[2], &opts)
			}
			if ack, _ := opts["acknowledge"].(bool); ack {
				err = me.send(wampError, code, reqID, map[string]interface{}{}, "wamp.error.feature_not_supported")
			}
		case wampHello:
			me.send(wampAbort, map[string]interface{}{"message": "HELLO in a session"}, "wamp.error.protocol_violation")
			return
		}
		if err != nil {
			return
		}
	}
}

func (r *wampRouter) call(caller *wampSession, req int64, proc string, m []json.RawMessage) error {
	if proc == wampEchoProc {
		return caller.send(append([]interface{}{wampResult, req, map[string]interface{}{}}, tail(m, 4)...)...)
	}
	r.mu.Lock()
	reg := r.procs[proc]
	if reg == nil {
		r.mu.Unlock()
		return caller.send(wampError, wampCall, req, map[string]interface{}{}, "wamp.error.no_such_procedure")
	}
	inv := r.id()
	r.invocations[inv] = &wampInvocationEntry{caller: caller, req: req, callee: reg.callee}
	if r.calls[caller] == nil {
		r.calls[caller] = map[int64]int64{}
	}
	r.calls[caller][req] = inv
	callee := reg.callee
	regID := reg.id
	r.mu.Unlock()
	callee.send(append([]interface{}{wampInvocation, inv, regID, map[string]interface{}{}}, tail(m, 4)...)...)
	return nil
}

// finish forgets invocation inv and returns its entry (nil when unknown or not the callee's).
func (r *wampRouter) finish(inv int64, callee *wampSession, keep bool) *wampInvocationEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.invocations[inv]
	if e == nil || e.callee != callee {
		return nil
	}
	if !keep {
		delete(r.invocations, inv)
		delete(r.calls[e.caller], e.req)
	}
	return e
}

func (r *wampRouter) yield(callee *wampSession, inv int64, m []json.RawMessage) error {
	var opts map[string]interface{}
	if len(m) > 2 {
		json.Unmarshal(m[2], &opts)
	}
	progress, _ := opts["progress"].(bool)
	e := r.finish(inv, callee, progress)
	if e == nil {
		return nil // late or unknown: dropped
	}
	details := map[string]interface{}{}
	if progress {
		details["progress"] = true
	}
	e.caller.send(append([]interface{}{wampResult, e.req, details}, tail(m, 3)...)...)
	return nil
}

func (r *wampRouter) calleeError(callee *wampSession, m []json.RawMessage) error {
	if len(m) < 5 {
		return nil
	}
	var reqType int
	var inv int64
	json.Unmarshal(m[1], &reqType)
	json.Unmarshal(m[2], &inv)
	if reqType != wampInvocation {
		return nil
	}
	e := r.finish(inv, callee, false)
	if e == nil {
		return nil
	}
	e.caller.send(append([]interface{}{wampError, wampCall, e.req}, tail(m, 3)...)...)
	return nil
}

func (r *wampRouter) cancel(caller *wampSession, req int64) error {
	r.mu.Lock()
	inv, ok := r.calls[caller][req]
	if ok {
		delete(r.calls[caller], req)
		delete(r.invocations, inv)
	}
	r.mu.Unlock()
	if !ok {
		return nil
	}
	return caller.send(wampError, wampCall, req, map[string]interface{}{}, "wamp.error.canceled")
}

func (r *wampRouter) register(callee *wampSession, req int64, proc string) error {
	r.mu.Lock()
	if proc == wampEchoProc || r.procs[proc] != nil {
		r.mu.Unlock()
		return callee.send(wampError, wampRegister, req, map[string]interface{}{}, "wamp.error.procedure_already_exists")
	}
	reg := &wampRegistration{id: r.id(), proc: proc, callee: callee}
	r.procs[proc] = reg
	r.regs[reg.id] = reg
	r.mu.Unlock()
	return callee.send(wampRegistered, req, reg.id)
}

func (r *wampRouter) unregister(callee *wampSession, req, regID int64) error {
	r.mu.Lock()
	reg := r.regs[regID]
	if reg == nil || reg.callee != callee {
		r.mu.Unlock()
		return callee.send(wampError, wampUnregister, req, map[string]interface{}{}, "wamp.error.no_such_registration")
	}
	delete(r.regs, regID)
	delete(r.procs, reg.proc)
	r.mu.Unlock()
	return callee.send(wampUnregistered, req)
}

// leave drops a session's registrations, its calls, and fails the calls waiting on it as a callee.
func (r *wampRouter) leave(s *wampSession) {
	r.mu.Lock()
	for id, reg := range r.regs {
		if reg.callee == s {
			delete(r.regs, id)
			delete(r.procs, reg.proc)
		}
	}
	var failed []*wampInvocationEntry
	for inv, e := range r.invocations {
		if e.callee == s || e.caller == s {
			delete(r.invocations, inv)
			delete(r.calls[e.caller], e.req)
			if e.callee == s && e.caller != s {
				failed = append(failed, e)
			}
		}
	}
	delete(r.calls, s)
	r.mu.Unlock()
	for _, e := range failed {
		e.caller.send(wampError, wampCall, e.req, map[string]interface{}{}, "wamp.error.canceled", []string{"callee left"})
	}
}
