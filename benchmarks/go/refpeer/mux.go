package main

// /mux[?buffer=N&peer-capacity=M]: a wsmux server session (specs/webhooktunnel.md §1-8) that accepts every stream
// a client opens and echoes its bytes back on the same stream.
//
// Wire: one wsmux frame per binary WebSocket message: type (1 byte: DAT 0, SYN 1, ACK 2, FIN 3), stream id (4 bytes
// little-endian), payload (DAT: the bytes; ACK: a 4-byte little-endian credit). Text messages, messages under 5
// bytes, unknown types, ACKs under 4 bytes of payload and frames for unknown streams are ignored.
//
// Flow control, as Go's wsmux: each stream has a receive buffer of N bytes (default 1024, Go's DefaultCapacity);
// the SYN is answered at once with ACK(id, N), which is the opener's send window. A DAT larger than the free room
// is dropped and fails the stream (ErrNoCapacity: nothing more is echoed on it, and it is closed with FIN). The echo consumes buffered bytes
// only as far as its own send window allows, sends one ACK per consumption with the bytes consumed (an application
// Read), then one DAT with them: the buffer frees room, and so credit to the opener, only as the echo goes out.
// The acceptor's first send window is min(N, M), M the capacity assumed of the opener (default 1024, spec §4
// correction: a Go opener with wsmux.Config{} holds 1024); every ACK from the opener adds its credit. DATs carry
// at most 16 KiB. A FIN from the opener is answered with FIN once everything buffered has been echoed; a stream
// whose two FINs have passed is forgotten. Everything runs on the session's read loop: nothing waits for credit
// (data that cannot go out stays buffered until an ACK makes room), so the echo needs no thread hand-off.
// Keepalive: gorilla answers the client's pings; this side sends none.

import (
	"encoding/binary"
	"net/http"
	"strconv"

	"github.com/gorilla/websocket"
)

const (
	muxDAT        = 0
	muxSYN        = 1
	muxACK        = 2
	muxFIN        = 3
	muxMaxPayload = 16 * 1024
)

type muxStream struct {
	buf          []byte // received, not yet consumed (len <= capacity)
	window       int64  // bytes this side may still send
	remoteClosed bool
	finSent      bool
	failed       bool
}

func muxFrame(kind byte, id uint32, payload []byte) []byte {
	b := make([]byte, 5+len(payload))
	b[0] = kind
	binary.LittleEndian.PutUint32(b[1:5], id)
	copy(b[5:], payload)
	return b
}

func muxAck(id uint32, n int) []byte {
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], uint32(n))
	return muxFrame(muxACK, id, p[:])
}

func queryInt(r *http.Request, name string, def int) int {
	if v := r.URL.Query().Get(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return def
}

func muxServer(w http.ResponseWriter, r *http.Request) {
	capacity := queryInt(r, "buffer", 1024)
	peerCapacity := queryInt(r, "peer-capacity", 1024)
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(4 << 20)
	streams := map[uint32]*muxStream{}
	send := func(b []byte) error { return c.WriteMessage(websocket.BinaryMessage, b) }
	// pump echoes what the window allows, then FINs a stream the opener has finished once it is drained.
	pump := func(id uint32, s *muxStream) error {
		for !s.failed && len(s.buf) > 0 && s.window > 0 {
			n := len(s.buf)
			if int64(n) > s.window {
				n = int(s.window)
			}
			if n > muxMaxPayload {
				n = muxMaxPayload
			}
			chunk := s.buf[:n]
			if err := send(muxAck(id, n)); err != nil {
				return err
			}
			if err := send(muxFrame(muxDAT, id, chunk)); err != nil {
				return err
			}
			s.window -= int64(n)
			s.buf = append(s.buf[:0], s.buf[n:]...)
		}
		if (s.failed || (s.remoteClosed && len(s.buf) == 0)) && !s.finSent {
			s.finSent = true
			if err := send(muxFrame(muxFIN, id, nil)); err != nil {
				return err
			}
		}
		if s.remoteClosed && s.finSent {
			delete(streams, id)
		}
		return nil
	}
	for {
		kind, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.BinaryMessage || len(data) < 5 {
			continue
		}
		id := binary.LittleEndian.Uint32(data[1:5])
		payload := data[5:]
		s := streams[id]
		switch data[0] {
		case muxSYN:
			if s != nil {
				continue // duplicate SYN
			}
			first := capacity
			if peerCapacity < first {
				first = peerCapacity
			}
			s = &muxStream{buf: make([]byte, 0, capacity), window: int64(first)}
			streams[id] = s
			err = send(muxAck(id, capacity))
		case muxDAT:
			if s == nil || s.failed {
				continue
			}
			if len(payload) > capacity-len(s.buf) {
				// ErrNoCapacity: the frame is dropped and the stream fails; the echo (an io.Copy) ends and closes it.
				s.failed = true
				s.buf = s.buf[:0]
				err = pump(id, s)
				break
			}
			s.buf = append(s.buf, payload...)
			err = pump(id, s)
		case muxACK:
			if s == nil || len(payload) < 4 {
				continue
			}
			s.window += int64(binary.LittleEndian.Uint32(payload[:4]))
			err = pump(id, s)
		case muxFIN:
			if s == nil {
				continue
			}
			s.remoteClosed = true
			err = pump(id, s)
		}
		if err != nil {
			return
		}
	}
}
