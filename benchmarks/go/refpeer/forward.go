package main

// /forward?pair=NAME: a plain WebSocket forwarder, the raw transport over the same two hops as the relay and the
// routed WAMP call. The first two connections with the same pair name are joined; every message one of them sends
// is written to the other, unchanged and with the same type, from the sender's read loop (as the netbird relay
// forwards). A message that arrives before the partner has connected waits for it (at most 30 s, then the
// connection is closed). A third connection with the same name is refused (closed at once).

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// lockedConn serialises writes to one connection (gorilla allows one writer at a time).
type lockedConn struct {
	c  *websocket.Conn
	mu sync.Mutex
}

func (l *lockedConn) write(kind int, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return l.c.WriteMessage(kind, data)
}

type forwardPair struct {
	ready chan struct{} // closed once both ends are here
	ends  [2]*lockedConn
	n     int
}

var (
	pairsMu sync.Mutex
	pairs   = map[string]*forwardPair{}
)

func forward(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("pair")
	if name == "" {
		http.Error(w, "pair required", http.StatusBadRequest)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(4 << 20)
	me := &lockedConn{c: c}
	pairsMu.Lock()
	p := pairs[name]
	if p == nil {
		p = &forwardPair{ready: make(chan struct{})}
		pairs[name] = p
	}
	if p.n == 2 {
		pairsMu.Unlock()
		return
	}
	side := p.n
	p.ends[side] = me
	p.n++
	if p.n == 2 {
		close(p.ready)
	}
	pairsMu.Unlock()
	defer func() {
		pairsMu.Lock()
		if pairs[name] == p {
			delete(pairs, name)
		}
		pairsMu.Unlock()
		// Ending one side ends the other.
		select {
		case <-p.ready:
			p.ends[1-side].c.Close()
		default:
		}
	}()
	var other *lockedConn
	for {
		kind, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if other == nil {
			select {
			case <-p.ready:
			case <-time.After(30 * time.Second):
				return
			}
			other = p.ends[1-side]
		}
		if err := other.write(kind, data); err != nil {
			return
		}
	}
}
