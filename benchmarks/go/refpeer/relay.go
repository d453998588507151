package main

// /relay: a minimal netbird relay server (specs/netbird-relay.md §1-4), enough for two relay clients to log in,
// find each other and exchange Transport messages.
//
// Every relay message is one binary WebSocket message: version 1, type, body. Handshake: the first message must
// be Auth (6: magic 21 12 A4 42, the 36-byte peer id, the token) within 10 s and at most 212 bytes; with
// -relay-secret the token is checked as the relay does (algorithm byte 1, a 32-byte HMAC-SHA256 keyed with
// SHA-256(secret) over the payload, the payload a Unix expiry not yet passed); any failure closes the socket without
// an answer. A login replaces (closes) an earlier session of the same peer id, tells the subscribers waiting for
// that id that it is online, then answers AuthResponse (7) with the instance URL rel://HOST:PORT.
// After the handshake: Transport (3) to an online peer is forwarded from the sender's read loop with the peer id
// rewritten to the sender's (to an unknown peer: dropped); Close (4) ends the session; HealthCheck (5) is the
// client's answer to ours; SubscribePeerState (8) registers interest in the ids and answers PeersOnline (10) at once
// with those already online (244 ids per message at most); UnsubscribePeerState (9) removes it. A subscriber is told
// PeersOnline once when a subscribed id later logs in, and PeersWentOffline (11) whenever its session ends. Any
// other type or version closes the session. The server sends HealthCheck every 25 s and closes a session that has
// not answered one by the next check (every 45 s). Writes to a session are serialised, each bounded by 10 s.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	relayVersion       = 1
	relayTransport     = 3
	relayClose         = 4
	relayHealthCheck   = 5
	relayAuth          = 6
	relayAuthResponse  = 7
	relaySubscribe     = 8
	relayUnsubscribe   = 9
	relayPeersOnline   = 10
	relayPeersOffline  = 11
	relayPeerIDSize    = 36
	relayMaxMessage    = 8820
	relayMaxAuth       = 212
	relayMaxIDsPerMsg  = (relayMaxMessage - 2) / relayPeerIDSize
	relayHealthEvery   = 25 * time.Second
	relayHealthTimeout = 45 * time.Second
)

var relayMagic = []byte{0x21, 0x12, 0xA4, 0x42}

type relayPeer struct {
	id     string // the 36 raw bytes
	conn   *lockedConn
	done   chan struct{}
	health chan struct{} // a health check answer arrived
}

// relayServer holds the logged-in peers and the peer-state interests; one per refpeer server.
type relayServer struct {
	instanceURL string
	secret      string // empty: any token is accepted
	mu          sync.Mutex
	peers       map[string]*relayPeer
	online      map[string]map[*relayPeer]bool // id -> subscribers told once when it logs in
	offline     map[string]map[*relayPeer]bool // id -> subscribers told whenever it goes offline
}

func newRelayServer(instanceURL, secret string) *relayServer {
	return &relayServer{
		instanceURL: instanceURL,
		secret:      secret,
		peers:       map[string]*relayPeer{},
		online:      map[string]map[*relayPeer]bool{},
		offline:     map[string]map[*relayPeer]bool{},
	}
}

func relayMessage(kind byte, body []byte) []byte {
	b := make([]byte, 2+len(body))
	b[0] = relayVersion
	b[1] = kind
	copy(b[2:], body)
	return b
}

// peerList sends ids to p as messages of kind, at most relayMaxIDsPerMsg ids each.
func (p *relayPeer) peerList(kind byte, ids []string) {
	for len(ids) > 0 {
		n := len(ids)
		if n > relayMaxIDsPerMsg {
			n = relayMaxIDsPerMsg
		}
		var body bytes.Buffer
		for _, id := range ids[:n] {
			body.WriteString(id)
		}
		p.conn.write(websocket.BinaryMessage, relayMessage(kind, body.Bytes()))
		ids = ids[n:]
	}
}

// validToken checks a relay token (HMAC v2) against the server's secret.
func (s *relayServer) validToken(token []byte) bool {
	if s.secret == "" {
		return true
	}
	if len(token) < 1+32+10 || token[0] != 1 {
		return false
	}
	key := sha256.Sum256([]byte(s.secret))
	mac := hmac.New(sha256.New, key[:])
	payload := token[33:]
	mac.Write(payload)
	if !hmac.Equal(mac.Sum(nil), token[1:33]) {
		return false
	}
	expiry, err := strconv.ParseInt(string(payload), 10, 64)
	return err == nil && time.Now().Unix() <= expiry
}

func (s *relayServer) serve(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(relayMaxMessage)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	kind, auth, err := c.ReadMessage()
	if err != nil || kind != websocket.BinaryMessage || len(auth) > relayMaxAuth || len(auth) < 2+4+relayPeerIDSize ||
		auth[0] != relayVersion || auth[1] != relayAuth || !bytes.Equal(auth[2:6], relayMagic) || !s.validToken(auth[6+relayPeerIDSize:]) {
		return
	}
	c.SetReadDeadline(time.Time{})
	me := &relayPeer{id: string(auth[6 : 6+relayPeerIDSize]), conn: &lockedConn{c: c}, done: make(chan struct{}), health: make(chan struct{}, 1)}
	s.login(me)
	defer s.logout(me)
	if err := me.conn.write(websocket.BinaryMessage, relayMessage(relayAuthResponse, []byte(s.instanceURL))); err != nil {
		return
	}
	go s.healthLoop(me)
	defer close(me.done)
	for {
		kind, m, err := c.ReadMessage()
		if err != nil || kind != websocket.BinaryMessage || len(m) < 2 || m[0] != relayVersion {
			return
		}
		switch m[1] {
		case relayTransport:
			if len(m) < 2+relayPeerIDSize {
				return
			}
			s.mu.Lock()
			dst := s.peers[string(m[2:2+relayPeerIDSize])]
			s.mu.Unlock()
			if dst == nil {
				continue // unknown or offline destination: dropped
			}
			copy(m[2:2+relayPeerIDSize], me.id)
			dst.conn.write(websocket.BinaryMessage, m)
		case relayClose:
			return
		case relayHealthCheck:
			select {
			case me.health <- struct{}{}:
			default:
			}
		case relaySubscribe, relayUnsubscribe:
			body := m[2:]
			if len(body)%relayPeerIDSize != 0 {
				return
			}
			var ids []string
			for i := 0; i < len(body); i += relayPeerIDSize {
				ids = append(ids, string(body[i:i+relayPeerIDSize]))
			}
			if m[1] == relaySubscribe {
				if on := s.subscribe(me, ids); len(on) > 0 {
					me.peerList(relayPeersOnline, on)
				}
			} else {
				s.unsubscribe(me, ids)
			}
		default:
			return
		}
	}
}

// login stores p (closing an earlier session of the same id) and tells those waiting for it that it is online.
func (s *relayServer) login(p *relayPeer) {
	s.mu.Lock()
	old := s.peers[p.id]
	s.peers[p.id] = p
	var notify []*relayPeer
	for sub := range s.online[p.id] {
		notify = append(notify, sub)
	}
	delete(s.online, p.id) // the online interest is consumed
	s.mu.Unlock()
	if old != nil {
		old.conn.c.Close()
	}
	for _, sub := range notify {
		sub.peerList(relayPeersOnline, []string{p.id})
	}
}

// logout removes p (unless a newer session replaced it) and its interests, and tells its watchers it went offline.
func (s *relayServer) logout(p *relayPeer) {
	s.mu.Lock()
	var notify []*relayPeer
	if s.peers[p.id] == p {
		delete(s.peers, p.id)
		for sub := range s.offline[p.id] {
			if sub != p {
				notify = append(notify, sub)
			}
		}
	}
	for _, m := range []map[string]map[*relayPeer]bool{s.online, s.offline} {
		for id, subs := range m {
			delete(subs, p)
			if len(subs) == 0 {
				delete(m, id)
			}
		}
	}
	s.mu.Unlock()
	for _, sub := range notify {
		sub.peerList(relayPeersOffline, []string{p.id})
	}
}

// subscribe registers p's interest in ids; returns those already online.
func (s *relayServer) subscribe(p *relayPeer, ids []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var on []string
	for _, id := range ids {
		for _, m := range []map[string]map[*relayPeer]bool{s.online, s.offline} {
			if m[id] == nil {
				m[id] = map[*relayPeer]bool{}
			}
			m[id][p] = true
		}
		if s.peers[id] != nil {
			on = append(on, id)
		}
	}
	return on
}

func (s *relayServer) unsubscribe(p *relayPeer, ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		for _, m := range []map[string]map[*relayPeer]bool{s.online, s.offline} {
			delete(m[id], p)
			if len(m[id]) == 0 {
				delete(m, id)
			}
		}
	}
}

// healthLoop sends a health check every 25 s and closes the session when one has gone unanswered by the next
// timeout check (every 45 s).
func (s *relayServer) healthLoop(p *relayPeer) {
	ping := time.NewTicker(relayHealthEvery)
	check := time.NewTicker(relayHealthTimeout)
	defer ping.Stop()
	defer check.Stop()
	answered := true
	for {
		select {
		case <-p.done:
			return
		case <-p.health:
			answered = true
		case <-ping.C:
			p.conn.write(websocket.BinaryMessage, relayMessage(relayHealthCheck, nil))
		case <-check.C:
			if !answered {
				p.conn.c.Close()
				return
			}
			answered = false
		}
	}
}
